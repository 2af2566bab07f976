package relay

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/internal/testnet"
)

// A peer that delivers a message new to us is tagged useful in the
// node's connection manager (the inbound eviction class ProtectUseful);
// our own messages and a peer that delivered nothing are not.
func TestRelayTagsUsefulPeers(t *testing.T) {
	a := newTNode(t, Config{}, "a")
	b := newTNode(t, Config{}, "b")
	c := newTNode(t, Config{}, "c")
	connect(t, a, b) // inbound at b
	connect(t, c, b) // inbound at b
	waitLinks(t, []*tnode{a, b, c}, []int{1, 2, 1})
	useful := func(n *tnode) map[string]time.Time {
		out := map[string]time.Time{}
		for _, cand := range nodeinternal.Host(n.node).ConnMgr.Candidates() {
			out[cand.Peer.String()] = cand.LastUseful
		}
		return out
	}
	testnet.Eventually(t, 10*time.Second, func() error {
		if u := useful(b); len(u) != 2 || !u[a.node.ID().String()].IsZero() {
			return fmt.Errorf("b's candidates before any message: %v", u)
		}
		return nil
	})
	if _, err := b.topic.Publish(context.Background(), []byte("from b")); err != nil {
		t.Fatal(err)
	}
	id, err := a.topic.Publish(context.Background(), []byte("from a"))
	if err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, func() error {
		if c.count(id) != 1 {
			return fmt.Errorf("c has not got a's message")
		}
		if useful(b)[a.node.ID().String()].IsZero() {
			return fmt.Errorf("a delivered a new message to b and is not tagged useful")
		}
		return nil
	})
	// c delivered nothing new to b (b's own message came back at most as
	// a duplicate).
	if u := useful(b)[c.node.ID().String()]; !u.IsZero() {
		t.Fatalf("c tagged useful at %v without delivering anything new", u)
	}
}
