package leaktest

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// settle reports a goroutine that does not end, and accepts one that ends
// while it waits.
func TestSettle(t *testing.T) {
	opts := Options(goleak.IgnoreCurrent())
	stop := make(chan struct{})
	go func() { <-stop }()
	if err := settle(opts, 300*time.Millisecond); err == nil {
		t.Fatal("a blocked goroutine was not reported")
	}
	time.AfterFunc(200*time.Millisecond, func() { close(stop) }) // it ends while settle waits
	if err := settle(opts, 5*time.Second); err != nil {
		t.Fatalf("goroutines that end were reported: %v", err)
	}
}
