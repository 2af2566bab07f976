//go:build !race

package sim

// defaultNodes is TestSimulation's network size without the race
// detector: the 1000 nodes (about 3 minutes on 2 cores).
const defaultNodes = 1000
