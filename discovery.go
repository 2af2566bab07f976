package dnode

import (
	"context"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/sessions"
)

// seed runs one seed-sync round now (DarkFi's P2p::seed) and returns its
// result; it blocks until every seed answered, failed or ctx is done.
func (n *Node) seed(ctx context.Context) (sessions.SyncResult, error) {
	r := n.cur.Load()
	if r == nil {
		return sessions.SyncResult{}, ErrNotRunning
	}
	return r.seedsync.Sync(ctx), nil
}

// book returns the address book of the running node, or of the last run
// after Stop (nil before the first Start).
func (n *Node) book() *addrbook.Book { return n.lastBook.Load() }

// Events returns the node's event bus: DarkFi's dnet events and the host
// notifications (hosts stored, channel created, stopped or failed, no
// peers). It lives as long as the Node, across restarts.
func (n *Node) Events() *events.Bus { return n.events }

// outboundSlots returns each outbound slot's channel id, 0 when empty.
func (n *Node) outboundSlots() []uint64 {
	r := n.cur.Load()
	if r == nil {
		return nil
	}
	return r.outbound.Slots()
}

// direct returns the running node's direct session (nil when stopped).
func (n *Node) direct() *sessions.Direct {
	if r := n.cur.Load(); r != nil {
		return r.direct
	}
	return nil
}
