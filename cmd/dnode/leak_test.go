package main

import (
	"testing"

	"go.uber.org/goleak"
)

// checkLeaks fails t if goroutines started during the test outlive it
// (its cleanups included: call it first, so that its check runs last).
// It is per test rather than a goleak TestMain because go-libp2p leaves
// goroutines behind when a host fails to bind (TestRunBindFailureExit).
func checkLeaks(t *testing.T) {
	t.Helper()
	current := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		goleak.VerifyNone(t, current,
			goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
			goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
			goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		)
	})
}
