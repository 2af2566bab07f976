// Package procs runs a network of real dnode processes on one machine:
// 3 seeds (`dnode seed`) and N-3 nodes (`dnode run`), each on its own
// loopback address (127.x.y.1, a different /16 every 200 processes and a
// different /24 for each), TCP only, with the RPC on the same address. It
// checks that every node fills its 8 outbound slots and that one dchat
// message (dchat.send over one node's RPC) reaches every other node
// (dchat.recv over each RPC), and logs each process's RSS, CPU time and
// open file descriptors from /proc.
//
// It starts hundreds of processes, so it runs only with -procs:
//
//	go test ./integration/procs -procs -procs-n 30 -v
//	go test ./integration/procs -procs -procs-n 300 -timeout 30m -v
//
// Without -procs the test is skipped with a message saying so. Every
// process is killed when the test ends, whatever happened (and by the
// kernel, through PR_SET_PDEATHSIG, if the test binary dies). The figures
// are in docs/simulation.md.
package procs
