//go:build !race

package sim

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/x/simlibp2p"
	"github.com/marcopolo/simnet"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/dchat"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/relay"
	"github.com/dnode-p2p/dnode/seed"
	"github.com/dnode-p2p/dnode/settings"
)

const simNetwork = "sim"

// config is the shape of a simulated network.
type config struct {
	seeds, nodes int
	outbound     int           // outbound slots per node
	inbound      int           // inbound slots per node
	latency      time.Duration // one-way, per packet
	bandwidth    int           // bits per second, each direction of each node's link
}

// simNode is one dnode node of the network with its chat and relay,
// and the relay messages it delivered.
type simNode struct {
	node  *dnode.Node
	chat  *dchat.Chat
	relay *relay.Relay

	mu  sync.Mutex
	got map[relay.ID]delivery
}

type delivery struct {
	count int
	first time.Time
}

// delivered returns how often the node delivered id, and when first.
func (sn *simNode) delivered(id relay.ID) (int, time.Time) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	d := sn.got[id]
	return d.count, d.first
}

// network is a running simulated network. It must be built and stopped
// inside one synctest bubble.
type simnetwork struct {
	t     testing.TB
	net   *simnet.Simnet
	seeds []*dnode.Node
	nodes []*simNode
}

// addrFor returns the simulated QUIC listen address of host index i. Each
// host gets its own /16 (11.0.0.1, 11.1.0.1, …, 61.199.0.1 for 10,000):
// outbound slots pick at most one host per /16, as on the internet.
func addrFor(i int) ma.Multiaddr {
	return ma.StringCast(fmt.Sprintf("/ip4/%d.%d.0.1/udp/8000/quic-v1", 11+i/200, i%200))
}

// nodeSettings are a node's settings on the simulated network: QUIC only,
// public (simulated) addresses, DarkFi's default timers except the
// hostlist, which is not saved during the run, and no NAT traversal.
func nodeSettings(t testing.TB, i int, cfg config, seeds []ma.Multiaddr) settings.Settings {
	s := settings.Default()
	s.Network = simNetwork
	s.Datastore = t.TempDir()
	s.RPCListen = ""
	s.Net.Inbound = []ma.Multiaddr{addrFor(i)}
	s.Net.Seeds = seeds
	s.Net.OutboundConnections = cfg.outbound
	s.Net.InboundConnections = cfg.inbound
	s.Net.HostlistSaveInterval = time.Hour
	// No NAT traversal: simnet has no NATs, and the host stays as
	// before (no relay transport, AutoNAT, hole punching or UPnP).
	s.Net.AutoNAT, s.Net.HolePunching, s.Net.NATPortMap, s.Net.RelayService = false, false, false, false
	return s
}

// hostOptions put a node's QUIC transport on the simulated network.
// Identify's address discovery is off: it stalls synctest (see
// x/simlibp2p), and dnode advertises its listen address anyway.
func (nw *simnetwork) hostOptions(cfg config) dnode.Option {
	link := simnet.NodeBiDiLinkSettings{
		Downlink: simnet.LinkSettings{BitsPerSecond: cfg.bandwidth},
		Uplink:   simnet.LinkSettings{BitsPerSecond: cfg.bandwidth},
	}
	return dnode.WithLibp2pOptions(
		simlibp2p.QUICSimnet(nw.net, link),
		libp2p.DisableIdentifyAddressDiscovery(),
	)
}

func identity(t testing.TB) crypto.PrivKey {
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// startNetwork builds and starts cfg.seeds seeds, then cfg.nodes nodes that
// know only the seeds. Call it inside a synctest bubble; the network is
// stopped at the test's cleanup.
func startNetwork(t testing.TB, cfg config) *simnetwork {
	nw := &simnetwork{t: t, net: &simnet.Simnet{LatencyFunc: simnet.StaticLatency(cfg.latency)}}
	nw.net.Start()
	t.Cleanup(nw.stop)
	ctx := context.Background()
	var seedAddrs []ma.Multiaddr
	for i := range cfg.seeds {
		key := identity(t)
		s := nodeSettings(t, i, cfg, nil)
		s.Seed.InboundConnections = cfg.nodes + cfg.seeds
		// A seed serves its network as seed.Start does, on its own host.
		n, err := dnode.New(seed.NodeSettings(s, simNetwork),
			dnode.WithLogHandler(testnet.LogHandler(t), "seed", i), dnode.WithIdentity(key), nw.hostOptions(cfg),
			dnode.WithWhitelistRecheck(s.Seed.WhitelistRefineryInterval))
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if err := n.Start(ctx); err != nil {
			t.Fatalf("start seed %d: %v", i, err)
		}
		nw.seeds = append(nw.seeds, n)
		seedAddrs = append(seedAddrs, n.Addrs()[0])
	}
	for i := range cfg.nodes {
		s := nodeSettings(t, cfg.seeds+i, cfg, seedAddrs)
		n, err := dnode.New(s, dnode.WithLogHandler(testnet.LogHandler(t), "node", i), dnode.WithIdentity(identity(t)), nw.hostOptions(cfg))
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		c, err := dchat.New(n, dchat.Config{})
		if err != nil {
			t.Fatalf("dchat %d: %v", i, err)
		}
		sn := &simNode{node: n, chat: c, relay: c.Relay(), got: map[relay.ID]delivery{}}
		topic, err := sn.relay.Join(dchat.Topic)
		if err != nil {
			t.Fatal(err)
		}
		topic.Handle(func(m *relay.Message) {
			if m.Local {
				return
			}
			sn.mu.Lock()
			d := sn.got[m.ID]
			if d.count == 0 {
				d.first = m.Received
			}
			d.count++
			sn.got[m.ID] = d
			sn.mu.Unlock()
		})
		if err := n.Start(ctx); err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
		nw.nodes = append(nw.nodes, sn)
	}
	return nw
}

// stop stops every node and seed, then the simulated network.
func (nw *simnetwork) stop() {
	for _, n := range nw.nodes {
		_ = n.node.Stop()
	}
	for _, n := range nw.seeds {
		_ = n.Stop()
	}
	nw.net.Close()
}

// filled returns how many nodes have every outbound slot filled, and the
// number of filled slots over all nodes.
func (nw *simnetwork) filled() (full, slots int) {
	for _, n := range nw.nodes {
		f := 0
		ss := nodeinternal.OutboundSlots(n.node)
		for _, id := range ss {
			if id != 0 {
				f++
			}
		}
		slots += f
		if f == len(ss) {
			full++
		}
	}
	return full, slots
}

// waitFor polls cond every step of simulated time until it holds or
// timeout (simulated) has passed; it reports whether cond held. Inside the
// synctest bubble the sleep between polls advances the fake clock at once
// when the network is idle; it costs no real time.
func waitFor(timeout, step time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(step)
	}
	return true
}
