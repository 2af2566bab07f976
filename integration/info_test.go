package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/dnode-p2p/dnode/channel"
)

// Node.Info is a snapshot: while running it names the node, its addresses
// and its channel (session, direction, traffic); after Stop it holds no
// peer ID, no channels and no slots.
func TestNodeInfoSnapshot(t *testing.T) {
	a, b := manualPair(t)
	var snap = a.Info()
	eventually(t, 10*time.Second, func() error {
		snap = a.Info()
		if len(snap.Channels) != 1 || snap.Channels[0].Stats.BytesOut == 0 || snap.Channels[0].Stats.BytesIn == 0 {
			return fmt.Errorf("channels %+v", snap.Channels)
		}
		return nil
	})
	ch := snap.Channels[0]
	if !snap.Running || snap.PeerID != a.ID() || len(snap.Addrs) == 0 || snap.Network != "test" || snap.AppVersion == "" {
		t.Fatalf("snapshot %+v", snap)
	}
	if ch.Peer != b.ID() || ch.Session != channel.Manual || ch.Direction != network.DirOutbound || ch.Start.IsZero() || ch.Addr == nil {
		t.Fatalf("channel %+v", ch)
	}
	// A localnet node runs no NAT traversal: nothing is known.
	if r := snap.Reachability; r.Status != "unknown" || r.Relayed || len(r.Reachable) != 0 {
		t.Fatalf("reachability %+v", r)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	after := a.Info()
	if after.Running || after.PeerID != "" || len(after.Channels) != 0 || after.OutboundSlots != nil || after.Reachability.Status != "unknown" {
		t.Fatalf("after Stop: %+v", after)
	}
}
