// Package leaktest checks a test binary for leaked goroutines with goleak,
// giving goroutines that are already ending (connections closing after a
// node stopped, on a loaded machine) time to finish before calling them
// leaks.
package leaktest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Settle is how long Main waits for goroutines to end after the tests.
const Settle = 10 * time.Second

// Options are the goroutines every dnode test binary may leave behind:
// process-wide ones that belong to no node.
func Options(extra ...goleak.Option) []goleak.Option {
	return append([]goleak.Option{
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	}, extra...)
}

// Main runs the tests, then polls goleak until no goroutine is left or
// Settle has passed, and exits non-zero on a leak.
func Main(m *testing.M, opts ...goleak.Option) {
	os.Exit(Run(m, opts...))
}

// Run is Main without the exit: it returns the exit code, so that the
// caller can clean up (temporary files the tests shared) before exiting.
func Run(m *testing.M, opts ...goleak.Option) int {
	code := m.Run()
	if code == 0 {
		if err := settle(opts, Settle); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: leaked goroutines after %s:\n%v\n", Settle, err)
			code = 1
		}
	}
	return code
}

func settle(opts []goleak.Option, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := goleak.Find(opts...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		<-tick.C
	}
}
