package testnet

import (
	"context"
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/settings"
)

// NewNode builds a node from s with opts, logging through LogHandler under
// name. The node is stopped at cleanup; it is not started.
func NewNode(t testing.TB, name string, s settings.Settings, opts ...dnode.Option) *dnode.Node {
	t.Helper()
	opts = append([]dnode.Option{dnode.WithLogHandler(LogHandler(t), "node", name)}, opts...)
	n, err := dnode.New(s, opts...)
	if err != nil {
		t.Fatalf("new %s: %v", name, err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n
}

// StartNode is NewNode followed by Start.
func StartNode(t testing.TB, name string, s settings.Settings, opts ...dnode.Option) *dnode.Node {
	t.Helper()
	n := NewNode(t, name, s, opts...)
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return n
}

// AddrOf returns a started node's first listen multiaddr, with /p2p/: the
// address its listener on port 0 was given.
func AddrOf(t testing.TB, n *dnode.Node) ma.Multiaddr {
	t.Helper()
	addrs := n.Addrs()
	if len(addrs) == 0 {
		t.Fatal("node has no address")
	}
	return addrs[0]
}

// Bound returns a started node's first listen address without /p2p/, for
// settings that must reuse the port its listener on port 0 was given: a
// node built again on the same datastore keeps the address others know.
func Bound(t testing.TB, n *dnode.Node) ma.Multiaddr {
	t.Helper()
	return AddrOf(t, n).Decapsulate(ma.StringCast("/p2p/" + n.ID().String()))
}
