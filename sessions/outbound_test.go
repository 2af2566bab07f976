package sessions

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/dnode-p2p/dnode/addrbook"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/internal/logging"
	"github.com/dnode-p2p/dnode/protocols"
	"github.com/dnode-p2p/dnode/settings"
)

// newTestManager returns a Manager on a host without listeners and an
// empty address book; both are closed at cleanup.
func newTestManager(t *testing.T, s settings.Settings) *Manager {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := logging.New(slog.DiscardHandler)
	h, err := dhost.New(dhost.Config{Identity: key, InboundLimit: 8, OutboundLimit: 8, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	m := NewManager(Config{Host: h, Network: "test", Settings: s, Registry: protocols.NewRegistry(),
		Book: addrbook.New(addrbook.Config{Self: h.ID()}), Logs: logs})
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	return m
}

// SetSlots before Start sets the count Start uses; while running it grows
// and shrinks the slot set at once, the known-host preference following
// the count; Stop waits for every slot, removed ones included; after Stop
// it starts nothing.
func TestOutboundSetSlots(t *testing.T) {
	s := settings.Default()
	s.Net.OutboundConnections = 2
	s.Net.KnownPeerPercent = 70
	m := newTestManager(t, s)
	o := NewOutbound(m, nil, NewSeedSync(m, nil))
	o.SetSlots(3)
	o.Start()
	if n := len(o.Slots()); n != 3 {
		t.Fatalf("%d slots after SetSlots(3) and Start, want 3", n)
	}
	knownOf := func() (known int) {
		o.mu.Lock()
		slots := append([]*outSlot(nil), o.slots...)
		o.mu.Unlock()
		for _, sl := range slots {
			if o.known(sl) {
				known++
			}
		}
		return known
	}
	for _, tc := range []struct{ n, known int }{{5, 3}, {1, 0}, {10, 7}, {0, 0}, {4, 2}} {
		o.SetSlots(tc.n)
		if got := len(o.Slots()); got != tc.n {
			t.Fatalf("%d slots after SetSlots(%d)", got, tc.n)
		}
		if got := knownOf(); got != tc.known {
			t.Errorf("SetSlots(%d): %d slots prefer known hosts, want %d (70 %%)", tc.n, got, tc.known)
		}
		o.mu.Lock()
		for i, sl := range o.slots {
			if sl.id != i {
				t.Errorf("SetSlots(%d): slot %d has id %d", tc.n, i, sl.id)
			}
		}
		o.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	o.mu.Lock()
	leaving := len(o.leaving)
	o.mu.Unlock()
	if leaving != 0 {
		t.Errorf("%d removed slots not retired after Stop", leaving)
	}
	o.SetSlots(6)
	if got := len(o.Slots()); got != 4 {
		t.Errorf("SetSlots after Stop changed the slots to %d", got)
	}
}
