package addrbook

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// Every sequence of lease calls, in any order and repeated, leaves the
// peer in the state of the first outcome recorded, and never in Connect
// once Done ran.
func TestLeaseOutcomes(t *testing.T) {
	t.Parallel()
	type step func(*Lease)
	connected := func(l *Lease) { _ = l.Connected() }
	held := func(l *Lease) { _ = l.Held() }
	failed := func(l *Lease) { _ = l.Failed() }
	done := func(l *Lease) { l.Done() }
	for _, tc := range []struct {
		name      string
		steps     []step
		state     State // the peer's state after the steps
		color     Color // where the entry is after the steps
		connected bool  // Book.Connected ran: the entry went to Gold at some point
	}{
		{"taken", nil, Connect, Grey, false},
		{"done", []step{done}, Free, Grey, false},
		{"done twice", []step{done, done}, Free, Grey, false},
		{"connected", []step{connected}, Connected, Gold, true},
		{"connected then done", []step{connected, done}, Free, Grey, true},
		{"connected twice then done", []step{connected, connected, done, done}, Free, Grey, true},
		{"held", []step{held}, Connected, Grey, false},
		{"held then done", []step{held, done}, Free, Grey, false},
		{"failed", []step{failed}, Suspend, Grey, false},
		{"failed then done", []step{failed, done}, Suspend, Grey, false},
		{"failed then connected", []step{failed, connected, done}, Suspend, Grey, false},
		{"connected then failed", []step{connected, failed}, Connected, Gold, true},
		{"done then anything", []step{done, connected, held, failed}, Free, Grey, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, _ := newTestBook(t, Config{})
				e := entryN(t, 1, epoch.Add(-time.Hour))
				b.Insert("", []Entry{e})
				l, err := b.PickLease(false, true, nil)
				if err != nil {
					t.Fatal(err)
				}
				if l.Peer() != e.Peer || b.State(e.Peer) != Connect {
					t.Fatalf("lease of %s, state %s", l.Peer(), b.State(e.Peer))
				}
				for _, s := range tc.steps {
					s(l)
				}
				if got := b.State(e.Peer); got != tc.state {
					t.Fatalf("state %s, want %s", got, tc.state)
				}
				mustColor(t, b, e, tc.color)
				mustInvariants(t, b)
			})
		})
	}
}

func TestLeaseTakeAndConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		e := entryN(t, 2, epoch)
		l, err := b.TakeLease(e)
		if err != nil {
			t.Fatal(err)
		}
		// A second lease on a peer in Connect is refused.
		if _, err := b.TakeLease(e); !errors.Is(err, ErrStateBlocked) {
			t.Fatalf("second TakeLease: %v", err)
		}
		if _, err := b.ConnectLease(e); !errors.Is(err, ErrStateBlocked) {
			t.Fatalf("ConnectLease of a taken peer: %v", err)
		}
		l.Done()
		if b.State(e.Peer) != Free {
			t.Fatalf("state after Done %s", b.State(e.Peer))
		}
		d := Entry{Addr: mustMA(t, "/ip4/11.0.0.9/tcp/5"), Peer: testPeer(9), LastSeen: epoch}
		l, err = b.ConnectLease(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Connected(); err != nil {
			t.Fatal(err)
		}
		mustColor(t, b, d, Gold)
		l.Done()
		mustColor(t, b, d, Grey)
		if b.State(d.Peer) != Free {
			t.Fatalf("state after disconnect %s", b.State(d.Peer))
		}
		if _, err := b.PickLease(false, false, nil); !errors.Is(err, ErrNoHost) {
			t.Fatalf("PickLease of an empty white/gold: %v", err)
		}
		mustInvariants(t, b)
	})
}
