// Package chaos is dnode's own chaos suite: a hostile peer built on plain
// go-libp2p (and raw TCP) attacks real dnode nodes, in process (the
// inproc_*_test.go files, external test package chaos_test) and as the
// dnode daemon built by the test with go build and run as a child process
// (the other files), while an honest peer keeps pinging them.
//
// Every attack checks the same things: the daemon does not panic or exit,
// the attackers are banned where docs/protocol.md says a violation bans,
// the honest peer's dnode ping keeps answering (its p99 round trip is
// logged), and the daemon's RSS, open file descriptors and goroutines come
// back near their baseline within a recovery window after the attack. A
// churn test SIGKILLs and restarts dnode processes at random around one
// survivor, then checks the survivor for leaks.
//
// The short version (the in-process attacks and the churn, scaled down)
// runs in the normal test command (go test -race ./...); the attacks on
// the daemon process run only in the full version, which holds the figures
// of docs/security.md ("Chaos suite"):
//
//	go test ./integration/chaos -chaos.full -v
//
// Each attack logs its figures on one line, starting with "FIGURES" (in
// process) or "chaos:" (the daemon).
package chaos
