package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	dnode "github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
)

// dnode's streams are attached to the resource manager's "dnode" service
// with their read buffers reserved: with a channel up, the service scope
// counts the channel's incoming streams and at least one read buffer's
// memory per stream, and it empties once the channel is gone.
func TestStreamsInDnodeService(t *testing.T) {
	a, b := manualPair(t)
	stat := func(n *dnode.Node) (st network.ScopeStat) {
		err := nodeinternal.Host(n).Network().ResourceManager().ViewService(channel.ServiceName, func(s network.ServiceScope) error {
			st = s.Stat()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// The ping streams run both ways from the start.
	eventually(t, 10*time.Second, func() error {
		st := stat(b)
		if st.NumStreamsInbound == 0 || st.NumStreamsOutbound == 0 || st.Memory < 2048*int64(st.NumStreamsInbound) {
			return fmt.Errorf("b's dnode service: %+v", st)
		}
		return nil
	})
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if st := stat(b); st.NumStreamsInbound+st.NumStreamsOutbound != 0 || st.Memory != 0 {
			return fmt.Errorf("b's dnode service after a stopped: %+v", st)
		}
		return nil
	})
}
