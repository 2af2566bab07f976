package dnode

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The saver saves every interval, and stop keeps its deadline when a save
// hangs (lifecycle.Wait, tested there), and its goroutine ends once the
// save returns (synctest.Test fails on a goroutine left behind).
func TestSaverStopKeepsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var saves atomic.Int32
		release := make(chan struct{})
		s := startSaver(time.Minute, func() {
			if saves.Add(1) == 2 {
				<-release // the second save hangs
			}
		})
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		if n := saves.Load(); n != 2 {
			t.Fatalf("%d saves after two intervals, want 2", n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := s.stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("stop = %v, want DeadlineExceeded at the deadline", err)
		}
		close(release)
		if err := s.stop(context.Background()); err != nil {
			t.Errorf("second stop after the save returned: %v", err)
		}
	})
}
