package lifecycle

import (
	"context"
	"fmt"
	"sync"
)

// Wait waits for wg, at most until ctx is done; what names the waited
// goroutines in the error, which wraps ctx.Err(). On a timeout the helper
// goroutine that waits on wg stays until wg is done: it is owned by the
// goroutines that did not stop (a job ignoring its context), and ends
// with them. Safe for concurrent use (as wg is).
func Wait(ctx context.Context, wg *sync.WaitGroup, what string) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	if Awaited(ctx, done) {
		return nil
	}
	return fmt.Errorf("%s did not stop in time: %w", what, ctx.Err())
}

// Awaited waits until done is closed or ctx is done, and reports whether
// done is closed (true too when both happened).
func Awaited(ctx context.Context, done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	case <-ctx.Done():
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
}
