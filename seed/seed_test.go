package seed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/settings"
)

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }

func TestNetworks(t *testing.T) {
	t.Parallel()
	s := settings.Default()
	s.Network = "solo"
	if got := Networks(s); !slices.Equal(got, []string{"solo"}) {
		t.Fatalf("Networks without [seed] networks = %v, want the top-level network", got)
	}
	s.Seed.Networks = []string{"a", "b"}
	got := Networks(s)
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Networks = %v, want [a b]", got)
	}
	got[0] = "changed"
	if s.Seed.Networks[0] != "a" {
		t.Fatal("Networks returned the settings' own slice")
	}
}

// A network's node: no outbound slots, relaxed bans, the seed's inbound
// cap, and its own hostlist when the seed serves several networks.
func TestNodeSettings(t *testing.T) {
	t.Parallel()
	s := settings.Default()
	s.Datastore = "/data"
	s.Network = "a"
	s.Net.Hostlist = "/data/custom.tsv"
	s.Seed.InboundConnections = 77
	one := NodeSettings(s, "a")
	if one.Network != "a" || one.Net.OutboundConnections != 0 || one.Net.BanPolicy != settings.BanRelaxed || one.Net.InboundConnections != 77 {
		t.Fatalf("node settings: network %q, outbound %d, bans %v, inbound %d", one.Network, one.Net.OutboundConnections, one.Net.BanPolicy, one.Net.InboundConnections)
	}
	if one.Net.Hostlist != "/data/custom.tsv" {
		t.Errorf("one network: hostlist %q, want the configured one", one.Net.Hostlist)
	}
	s.Seed.Networks = []string{"a", "b"}
	for _, nw := range s.Seed.Networks {
		if got, want := NodeSettings(s, nw).Net.Hostlist, filepath.Join("/data", nw, "hostlist.tsv"); got != want {
			t.Errorf("network %s: hostlist %q, want %q", nw, got, want)
		}
	}
	if s.Net.OutboundConnections == 0 || s.Network != "a" {
		t.Error("NodeSettings changed the seed's settings")
	}
}

func seedSettings(t *testing.T, networks ...string) settings.Settings {
	s := testnet.Settings(t)
	s.Seed.Networks = networks
	return s
}

// One host serves every network: a node of each network gets a channel
// to the seed's node of its network only. Start twice is ErrRunning, Stop
// is idempotent and leaves nothing running, and the seed starts again.
func TestSeedServesNetworksOnOneHost(t *testing.T) {
	t.Parallel()
	sd, err := New(seedSettings(t, "a", "b"), testnet.LogHandler(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sd.Stop() })
	if err := sd.Start(context.Background()); !errors.Is(err, dnode.ErrRunning) {
		t.Fatalf("second Start: %v, want ErrRunning", err)
	}
	h := sd.Host()
	if sd.Node("a") == nil || sd.Node("b") == nil || sd.Node("c") != nil {
		t.Fatal("nodes: want a and b, no c")
	}
	if sd.Node("a").ID() != h.ID() || sd.Node("b").ID() != h.ID() {
		t.Fatal("networks' nodes do not share the seed's host")
	}
	if books := sd.Books(); len(books) != 2 || books["a"] == books["b"] {
		t.Fatalf("books: %d, want one of its own per network", len(books))
	}
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	if err != nil || len(addrs) == 0 {
		t.Fatal("seed has no address")
	}
	s := testnet.Settings(t)
	s.Network = "b"
	n := testnet.StartNode(t, "client", s)
	if _, err := n.Connect(context.Background(), addrs[0], channel.Manual); err != nil {
		t.Fatalf("network b's node to the seed: %v", err)
	}
	testnet.Eventually(t, 10*time.Second, func() error {
		if len(sd.Node("b").Channels()) != 1 {
			return errors.New("no channel on the seed's network b")
		}
		return nil
	})
	if c := len(sd.Node("a").Channels()); c != 0 {
		t.Fatalf("the seed's network a has %d channels, want 0", c)
	}

	if err := sd.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := sd.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if sd.Host() != nil || sd.Node("a") != nil || len(sd.Books()) != 0 {
		t.Fatal("a stopped seed still has a host or nodes")
	}
	if err := sd.Start(context.Background()); err != nil {
		t.Fatalf("start again: %v", err)
	}
}

// A listener that cannot bind fails Start and leaves nothing running.
func TestSeedStartBindFailure(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := seedSettings(t)
	s.Net.Inbound = []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", l.Addr().(*net.TCPAddr).Port))}
	sd, err := New(s, testnet.LogHandler(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.Start(context.Background()); err == nil {
		_ = sd.Stop()
		t.Fatal("Start on a port in use succeeded")
	}
	if sd.Host() != nil || sd.Node(s.Network) != nil {
		t.Fatal("a failed Start left a host or node")
	}
}

// New refuses settings that do not validate.
func TestNewValidates(t *testing.T) {
	t.Parallel()
	s := testnet.Settings(t)
	s.Net.OutboundConnections = -1
	if _, err := New(s, nil); err == nil {
		t.Fatal("New accepted invalid settings")
	}
}
