package testnet

import (
	"io"
	"log/slog"
	"os"
	"testing"
	"time"
)

// Eventually polls cond every 20 ms until it returns nil, and fails the
// test with cond's last error once timeout has passed.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		<-tick.C
	}
}

// LogHandler writes logs to t.Log at debug level when DNODE_TEST_LOG is
// set, and drops them otherwise.
func LogHandler(t testing.TB) slog.Handler {
	if os.Getenv("DNODE_TEST_LOG") == "" {
		return slog.DiscardHandler
	}
	return slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

var _ io.Writer = tWriter{}
