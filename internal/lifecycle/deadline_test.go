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

// Wait keeps its deadline when a goroutine ignores its context: it
// returns at the deadline with an error naming what did not stop and
// wrapping ctx's error, and returns nil as soon as the goroutines end.
func TestWaitKeepsTheDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var wg sync.WaitGroup
		release := make(chan struct{})
		wg.Go(func() { <-release }) // a job that ignores its context
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		began := time.Now()
		err := Wait(ctx, &wg, "test jobs")
		if took := time.Since(began); took != 4*time.Second {
			t.Fatalf("Wait returned after %s, want the 4 s deadline", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "test jobs") {
			t.Fatalf("Wait = %v, want a deadline error naming the jobs", err)
		}
		close(release)
		synctest.Wait() // the helper goroutine ends with the job

		wg.Go(func() { time.Sleep(time.Second) })
		ctx2, cancel2 := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel2()
		began = time.Now()
		if err := Wait(ctx2, &wg, "test jobs"); err != nil {
			t.Fatalf("Wait on jobs that end: %v", err)
		}
		if took := time.Since(began); took != time.Second {
			t.Fatalf("Wait returned after %s, want 1 s (when the job ended)", took)
		}
	})
}
