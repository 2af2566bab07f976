package integration

import (
	"context"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"
)

// DarkFi's restart test: three start/stop cycles of two nodes that are
// manual peers. After each stop no channel is left; after the last, no
// goroutine of either node is left. Every Stop returns within 5 s.
func TestStartStopCycles(t *testing.T) {
	// Goroutines that ran before this test (earlier tests' leftovers the
	// package's leak check tolerates) are not this test's.
	before := goleak.IgnoreCurrent()
	sa := testSettings(t)
	a := newNode(t, "a", sa)
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	sb := testSettings(t)
	sb.Net.Peers = []ma.Multiaddr{addrOf(t, a)}
	// a keeps its identity across restarts (datastore), but its port changes
	// unless pinned; pin it so that b's manual peer address stays valid.
	pinned := a.Addrs()[0]
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	sa.Net.Inbound = []ma.Multiaddr{stripP2P(pinned)}
	a = newNode(t, "a", sa)
	b := newNode(t, "b", sb)

	for cycle := range 3 {
		for _, n := range []interface{ Start(context.Context) error }{a, b} {
			if err := n.Start(context.Background()); err != nil {
				t.Fatalf("cycle %d: start: %v", cycle, err)
			}
		}
		eventually(t, 10*time.Second, func() error {
			if len(a.Channels()) != 1 || len(b.Channels()) != 1 {
				return errorf("cycle %d: channels a=%d b=%d", cycle, len(a.Channels()), len(b.Channels()))
			}
			if b.Channels()[0].RTT() == 0 {
				return errorf("cycle %d: no ping yet", cycle)
			}
			return nil
		})
		for name, n := range map[string]interface {
			Stop() error
		}{"a": a, "b": b} {
			start := time.Now()
			if err := n.Stop(); err != nil {
				t.Errorf("cycle %d: stop %s: %v", cycle, name, err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("cycle %d: stop %s took %s", cycle, name, d)
			}
		}
		if len(a.Channels())+len(b.Channels()) != 0 {
			t.Fatalf("cycle %d: channels left after stop", cycle)
		}
	}
	goleak.VerifyNone(t, append(goleakOptions(), before)...)
}

// stripP2P removes a trailing /p2p/<id> component.
func stripP2P(m ma.Multiaddr) ma.Multiaddr {
	out, _ := ma.SplitLast(m)
	return out
}
