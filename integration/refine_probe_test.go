package integration

import (
	"context"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
)

// A refine probe is a version-only channel: once the prober stops it, the
// connection closes and the probed node's side of it goes away.
func TestRefineProbeClosesConnection(t *testing.T) {
	a := startNode(t, "a", testSettings(t))
	b := startNode(t, "b", testSettings(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := a.Connect(ctx, addrOf(t, b), channel.Refine)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Attached(a.Registry().Specs()[0]) {
		t.Error("a protocol is attached to a refine channel")
	}
	ch.Stop(nil)
	eventually(t, 5*time.Second, func() error {
		if n := len(b.Channels()) + len(a.Channels()); n != 0 {
			return errorf("%d channels remain", n)
		}
		if n := len(nodeinternal.Host(b).Network().Conns()); n != 0 {
			return errorf("b still has %d connections", n)
		}
		return nil
	})
}
