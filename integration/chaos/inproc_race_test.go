//go:build race

package chaos_test

// raceBuild: the race detector keeps its shadow memory, so RSS does not
// come back after an attack; heap in use is asserted instead.
const raceBuild = true
