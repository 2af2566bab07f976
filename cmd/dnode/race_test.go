//go:build race

package main

// raceEnabled tells the binary test to build dnode with -race too, which
// reuses the packages the test itself was built from.
const raceEnabled = true
