//go:build race

package sim

// defaultNodes is TestSimulation's network size under the race detector,
// which makes the simulation about 5.5 times slower (200 nodes: 27 s
// without, 150 s with): a smaller network runs the same code paths. The
// test command's second step runs the 1000-node network without it.
const defaultNodes = 60
