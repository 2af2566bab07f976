package dnode

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/test"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/sessions"
	"github.com/dnode-p2p/dnode/settings"
)

// seedAddr returns a loopback seed address of a random peer.
func seedAddr(t *testing.T, port string) (ma.Multiaddr, peer.ID) {
	t.Helper()
	p := test.RandPeerIDFatal(t)
	return ma.StringCast("/ip4/127.0.0.1/tcp/" + port + "/p2p/" + p.String()), p
}

// testSettings is testnet.Settings, which this package cannot import
// (testnet imports dnode): a localnet node on a loopback port 0 with
// short timeouts.
func testSettings(t *testing.T) settings.Settings {
	t.Helper()
	s := settings.Default()
	s.Network = "test"
	s.Datastore = t.TempDir()
	s.RPCListen = ""
	s.Net.Inbound = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}
	s.Net.Localnet = true
	for name, p := range s.Net.Profiles {
		p.OutboundConnectTimeout = 3 * time.Second
		p.ChannelHandshakeTimeout = 3 * time.Second
		p.ChannelHeartbeatInterval = 500 * time.Millisecond
		s.Net.Profiles[name] = p
	}
	return s
}

func newTestNode(t *testing.T, s settings.Settings, opts ...Option) *Node {
	t.Helper()
	n, err := New(s, append([]Option{WithLogHandler(slog.DiscardHandler)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n
}

// The bounds and refusals of the runtime setters, on a stopped node: they
// are those of the settings, each with its sentinel, and a refused change
// changes nothing.
func TestRuntimeSettingsBounds(t *testing.T) {
	s := testSettings(t)
	manualAddr, _ := seedAddr(t, "2")
	s.Net.Peers = []ma.Multiaddr{manualAddr}
	n := newTestNode(t, s)

	for _, tc := range []struct {
		name string
		set  func(int) error
		v    int
		want error
	}{
		{"outbound -1", n.Admin().SetOutboundSlots, -1, ErrOutOfRange},
		{"outbound 1025", n.Admin().SetOutboundSlots, settings.MaxOutboundConnections + 1, ErrOutOfRange},
		{"outbound 1024", n.Admin().SetOutboundSlots, settings.MaxOutboundConnections, nil},
		{"outbound 0", n.Admin().SetOutboundSlots, 0, nil},
		{"inbound -1", n.Admin().SetInboundLimit, -1, ErrOutOfRange},
		{"inbound 65537", n.Admin().SetInboundLimit, settings.MaxInboundConnections + 1, ErrOutOfRange},
		{"inbound 65536", n.Admin().SetInboundLimit, settings.MaxInboundConnections, nil},
		{"inbound 0", n.Admin().SetInboundLimit, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.set(tc.v); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if got := n.currentSettings(); got.Net.OutboundConnections != 0 || got.Net.InboundConnections != 0 {
		t.Errorf("Settings: outbound %d, inbound %d; want the last accepted values 0, 0", got.Net.OutboundConnections, got.Net.InboundConnections)
	}

	good, goodPeer := seedAddr(t, "1")
	for _, tc := range []struct {
		name string
		addr ma.Multiaddr
		want error
	}{
		{"no p2p", ma.StringCast("/ip4/127.0.0.1/tcp/1"), ErrBadSeed},
		{"p2p only", ma.StringCast("/p2p/" + goodPeer.String()), ErrBadSeed},
		{"p2p not last", ma.StringCast("/p2p/" + goodPeer.String() + "/tcp/1"), ErrBadSeed},
		{"empty", nil, ErrBadSeed},
		{"a manual peer", manualAddr, ErrSeedIsPeer},
		{"good", good, nil},
		{"again, other address", ma.StringCast("/ip4/127.0.0.2/tcp/9/p2p/" + goodPeer.String()), ErrSeedExists},
	} {
		t.Run("add "+tc.name, func(t *testing.T) {
			if err := n.Admin().AddSeed(tc.addr); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if got := n.Admin().Seeds(); len(got) != 1 || !got[0].Equal(good) {
		t.Fatalf("Seeds = %v, want [%s]", got, good)
	}
	if got := n.currentSettings().Net.Seeds; len(got) != 1 || !got[0].Equal(good) {
		t.Errorf("currentSettings().Net.Seeds = %v", got)
	}
	other, _ := seedAddr(t, "1")
	if err := n.Admin().RemoveSeed(other); !errors.Is(err, ErrNotSeed) {
		t.Errorf("RemoveSeed of no seed: %v", err)
	}
	if err := n.Admin().RemoveSeed(ma.StringCast("/ip4/127.0.0.1/tcp/1")); !errors.Is(err, ErrBadSeed) {
		t.Errorf("RemoveSeed without /p2p/: %v", err)
	}
	// Another address of the same peer names the same seed.
	if err := n.Admin().RemoveSeed(ma.StringCast("/ip4/10.0.0.1/tcp/5/p2p/" + goodPeer.String())); err != nil {
		t.Fatalf("RemoveSeed: %v", err)
	}
	if len(n.Admin().Seeds()) != 0 {
		t.Errorf("Seeds after remove = %v", n.Admin().Seeds())
	}

	// The seed list is bounded.
	for range MaxSeeds {
		a, _ := seedAddr(t, "3")
		if err := n.Admin().AddSeed(a); err != nil {
			t.Fatal(err)
		}
	}
	extra, _ := seedAddr(t, "3")
	if err := n.Admin().AddSeed(extra); !errors.Is(err, ErrTooManySeeds) {
		t.Errorf("seed past MaxSeeds: %v", err)
	}
}

// On a running node the changes reach the sessions, the address book and
// the host at once, and they outlive a restart.
func TestRuntimeSettingsRunning(t *testing.T) {
	s := testSettings(t)
	s.Net.OutboundConnections = 0
	n := newTestNode(t, s)
	ctx := context.Background()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Admin().SetOutboundSlots(2); err != nil {
		t.Fatal(err)
	}
	if got := len(n.outboundSlots()); got != 2 {
		t.Errorf("outbound slots = %d right after SetOutboundSlots(2)", got)
	}
	if got := (addrNode{n}).GetAddrsMax(); got != 2 {
		t.Errorf("GetAddrs max = %d, want the slot count 2", got)
	}
	if err := n.Admin().SetInboundLimit(3); err != nil {
		t.Fatal(err)
	}
	h := n.host()
	if h.Conns.Limit() != 3 {
		t.Errorf("inbound cap = %d, want 3", h.Conns.Limit())
	}
	if in, out := h.SystemConnLimits(); in != 3+32 || out != 2+32 {
		t.Errorf("resource manager system limits in %d out %d; want 35, 34", in, out)
	}

	seed, seedPeer := seedAddr(t, "1") // nobody listens: the background exchange fails
	if err := n.Admin().AddSeed(seed); err != nil {
		t.Fatal(err)
	}
	own := ma.StringCast("/ip4/127.0.0.1/tcp/1/p2p/" + n.ID().String())
	if err := n.Admin().AddSeed(own); !errors.Is(err, ErrBadSeed) {
		t.Errorf("AddSeed of ourselves: %v", err)
	}
	book := n.book()
	if !book.IsSeed(seedPeer) {
		t.Error("the book does not know the added seed")
	}
	book.Insert("", []addrbook.Entry{{Addr: seed, Peer: seedPeer, LastSeen: time.Now()}})
	if _, ok := book.Contains(seedPeer); ok {
		t.Error("the book stored an added seed's address")
	}
	if _, _, err := n.direct().Get(ctx, seed); !errors.Is(err, sessions.ErrSeedPeer) {
		t.Errorf("direct channel to an added seed: %v, want ErrSeedPeer", err)
	}
	if err := n.Admin().AddPeer(seed); err == nil {
		t.Error("an added seed was accepted as a manual peer")
	}
	if !slices.ContainsFunc(n.manager().Seeds(), func(ai peer.AddrInfo) bool { return ai.ID == seedPeer }) {
		t.Error("the sessions' seed list lacks the added seed")
	}
	if _, out := h.SystemConnLimits(); out != 2+1+32 {
		t.Errorf("resource manager outbound limit = %d, want slots + seed + slack = 35", out)
	}

	// A restart keeps the runtime values.
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(n.outboundSlots()); got != 2 || n.host().Conns.Limit() != 3 || !n.book().IsSeed(seedPeer) {
		t.Errorf("after restart: %d slots, inbound cap %d, seed known %v", got, n.host().Conns.Limit(), n.book().IsSeed(seedPeer))
	}
	if err := n.Admin().RemoveSeed(seed); err != nil {
		t.Fatal(err)
	}
	if n.book().IsSeed(seedPeer) || n.manager().IsSeed(seedPeer) {
		t.Error("a removed seed is still a seed")
	}
	if err := n.Admin().SetOutboundSlots(0); err != nil {
		t.Fatal(err)
	}
	if got := len(n.outboundSlots()); got != 0 {
		t.Errorf("outbound slots = %d after SetOutboundSlots(0)", got)
	}
}

// A node on a shared host leaves the host's inbound cap to its owner.
func TestRuntimeInboundSharedHost(t *testing.T) {
	owner := newTestNode(t, testSettings(t))
	if err := owner.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := testSettings(t)
	s.Network = "other"
	guest := newTestNode(t, s, WithHost(owner.host()))
	if err := guest.Admin().SetInboundLimit(1); !errors.Is(err, ErrSharedHost) {
		t.Errorf("SetInboundLimit on a shared host: %v", err)
	}
	if err := guest.Admin().SetOutboundSlots(1); err != nil {
		t.Errorf("SetOutboundSlots on a shared host: %v", err)
	}
}
