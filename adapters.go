package dnode

import (
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	dhost "github.com/dnode-p2p/dnode/host"
)

// The node as its address book and its addr protocol see it: small
// adapters implementing the consumer-side interfaces (addrbook.Node,
// addr.Node), so that none of it is on Node's public methods. They read
// the running instance through Node.cur, published once Start has built
// it, never a field assigned after they were made.

// addrNode is the node as the addr protocol sees it (addr.Node and
// addr.SelfAdvertised), kept off Node's public methods. Safe for
// concurrent use; nothing blocks.
type addrNode struct{ n *Node }

func (a addrNode) AddrBook() *addrbook.Book { return a.n.book() }

func (a addrNode) GetAddrsMax() int {
	if m := a.n.settings.Net.GetaddrsMax; m > 0 {
		return m
	}
	return max(a.n.live.outboundSlots(), 1)
}

func (a addrNode) DialableTransports() []string { return a.n.dialableTransports() }

// ExternalAddrs returns the configured external addresses with /p2p/
// (nil when stopped).
func (a addrNode) ExternalAddrs() []ma.Multiaddr {
	if r := a.n.cur.Load(); r != nil {
		return r.mgr.ExternalAddrs()
	}
	return nil
}

// SelfAdvertised has the refinery probe a peer's own address soon.
func (a addrNode) SelfAdvertised(e addrbook.Entry) {
	if r := a.n.cur.Load(); r != nil {
		r.refine.Prompt(e)
	}
}

// bookNode is the node as its address book sees it (addrbook.Node), for
// the book of a run on host h. Safe for concurrent use; nothing blocks.
type bookNode struct {
	n *Node
	h *dhost.Host
}

// OwnAddrs returns the host's listen addresses and the configured
// external ones.
func (b bookNode) OwnAddrs() []ma.Multiaddr {
	return append(b.h.Addrs(), b.n.settings.Net.ExternalAddrs...)
}

// ManualPeers returns the running node's manual peers (none before Start
// has published the run).
func (b bookNode) ManualPeers() []peer.ID {
	r := b.n.cur.Load()
	if r == nil {
		return nil
	}
	var out []peer.ID
	for p := range r.manual.Peers() {
		out = append(out, p)
	}
	return out
}

// Refused is the gater's blacklist and ban check.
func (b bookNode) Refused(p peer.ID, a ma.Multiaddr) bool { return b.h.Gater.Refused(p, a) }

// SourceAddr returns the remote address of a connection to p, nil if none.
func (b bookNode) SourceAddr(p peer.ID) ma.Multiaddr { return sourceAddr(b.h, p) }
