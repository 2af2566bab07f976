package lifecycle

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Wait returns nil when the goroutines end in time, and at the deadline
// an error naming them and wrapping DeadlineExceeded when they do not;
// its helper goroutine ends with them (synctest fails on one left).
func TestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var wg sync.WaitGroup
		release := make(chan struct{})
		wg.Go(func() { <-release })
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		began := time.Now()
		err := Wait(ctx, &wg, "stuck jobs")
		if took := time.Since(began); took != time.Second {
			t.Errorf("Wait took %v, want the 1s deadline", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stuck jobs") {
			t.Errorf("Wait = %v", err)
		}
		close(release)
		if err := Wait(context.Background(), &wg, "jobs"); err != nil {
			t.Errorf("Wait after the release: %v", err)
		}
	})
}

// Awaited prefers done when both done and ctx are.
func TestAwaitedPrefersDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	close(done)
	if !Awaited(ctx, done) {
		t.Fatal("done and ctx both done: not awaited")
	}
	if Awaited(ctx, make(chan struct{})) {
		t.Fatal("awaited with done open")
	}
}
