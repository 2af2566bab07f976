package dnode

import (
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/settings"
)

// anchorsPath is the anchors file of s: beside the hostlist, named after
// it with ".tsv" replaced by ".anchors.tsv" (by default
// <datastore>/hostlist.anchors.tsv), so that two nodes never share one.
func anchorsPath(s settings.Settings) string {
	return strings.TrimSuffix(s.HostlistPath(), ".tsv") + ".anchors.tsv"
}

// loadAnchors consumes the anchors file (the hosts the outbound slots
// held at the last Stop) and returns them; problems are logged.
func (n *Node) loadAnchors() []addrbook.Entry {
	path := anchorsPath(n.settings)
	a, err := addrbook.LoadAnchors(path)
	if err != nil {
		n.log.Warn("anchors not used", "path", path, "err", err)
		return nil
	}
	if len(a.Entries) > 0 || a.Skipped > 0 {
		n.log.Info("anchors loaded", "path", path, "anchors", len(a.Entries), "skipped_lines", a.Skipped)
	}
	return a.Entries
}

// saveAnchors writes the hosts the outbound slots hold as the next
// start's anchors (nothing when they hold none: the last file was
// consumed at start).
func (n *Node) saveAnchors(anchors []addrbook.Entry) {
	if len(anchors) == 0 {
		return
	}
	path := anchorsPath(n.settings)
	if err := addrbook.SaveAnchors(path, anchors); err != nil {
		n.log.Warn("anchors not saved", "path", path, "err", err)
	}
}

// sourceAddr is the remote address of h's connection to p (nil if none),
// whose netgroup keys the greylist buckets of the addresses p sends.
func sourceAddr(h *dhost.Host, p peer.ID) ma.Multiaddr {
	for _, c := range h.Network().ConnsToPeer(p) {
		return c.RemoteMultiaddr()
	}
	return nil
}
