// Package chaos is dnode's own chaos suite: a hostile peer built on plain
// go-libp2p (and raw TCP) attacks the real dnode daemon, built by the test
// with go build and run as a child process, while an honest peer keeps
// pinging it.
//
// Every attack checks the same things: the daemon does not panic or exit,
// the attackers are banned where docs/protocol.md says a violation bans,
// the honest peer's dnode ping keeps answering (its p99 round trip is
// logged), and the daemon's RSS, open file descriptors and goroutines come
// back near their baseline within a recovery window after the attack. A
// churn test SIGKILLs and restarts dnode processes at random around one
// survivor, then checks the survivor for leaks.
//
// The short version runs in the normal test command (go test -race
// ./...). The full version, with the figures of docs/security.md ("Chaos
// suite"), runs with
//
//	go test ./integration/chaos -chaos.full -v
//
// Each test logs one line per attack starting with "chaos:" that holds the
// figures recorded in docs/security.md.
package chaos
