//go:build !race

package sim

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	p2pconfig "github.com/libp2p/go-libp2p/config"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/x/simlibp2p"
	"github.com/marcopolo/simnet"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/dchat"
	"github.com/dnode-p2p/dnode/internal/memnet"
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
	bandwidth    int           // bits per second, each direction of each node's link (QUIC only)
	transport    string        // transportQUIC or transportMem
}

// The simulated transports (-sim.transport).
const (
	// transportQUIC is go-libp2p's QUIC transport on simnet's virtual
	// UDP network, with TLS or Noise.
	transportQUIC = "quic"
	// transportMem is memnet's in-memory stream connections (as TCP)
	// with go-libp2p's upgrader: no security, yamux.
	transportMem = "mem"
)

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
	net   *simnet.Simnet  // transportQUIC
	mem   *memnet.Network // transportMem
	seeds []*dnode.Node
	nodes []*simNode
}

// addrFor returns the simulated listen address of host index i on the
// transport (QUIC or TCP). Each host gets its own /16 (11.0.0.1,
// 11.1.0.1, …, 61.199.0.1 for 10,000): outbound slots pick at most one
// host per /16, as on the internet.
func addrFor(i int, transport string) ma.Multiaddr {
	ip := fmt.Sprintf("/ip4/%d.%d.0.1", 11+i/200, i%200)
	if transport == transportMem {
		return ma.StringCast(ip + "/tcp/8000")
	}
	return ma.StringCast(ip + "/udp/8000/quic-v1")
}

// nodeSettings are a node's settings on the simulated network: one transport,
// public (simulated) addresses, DarkFi's default timers except the
// hostlist, which is not saved during the run, and no NAT traversal.
func nodeSettings(t testing.TB, i int, cfg config, seeds []ma.Multiaddr) settings.Settings {
	s := settings.Default()
	s.Network = simNetwork
	s.Datastore = t.TempDir()
	s.RPCListen = ""
	s.Net.Inbound = []ma.Multiaddr{addrFor(i, cfg.transport)}
	s.Net.Seeds = seeds
	s.Net.OutboundConnections = cfg.outbound
	s.Net.InboundConnections = cfg.inbound
	s.Net.HostlistSaveInterval = time.Hour
	// No NAT traversal: simnet has no NATs, and the host stays as
	// before (no relay transport, AutoNAT, hole punching or UPnP).
	s.Net.AutoNAT, s.Net.HolePunching, s.Net.NATPortMap, s.Net.RelayService = false, false, false, false
	return s
}

// hostOptions put the transport of host index i on the simulated network.
// Identify's address discovery is off: it stalls synctest (see
// x/simlibp2p), and dnode advertises its listen address anyway.
func (nw *simnetwork) hostOptions(cfg config, i int) dnode.Option {
	if cfg.transport == transportMem {
		ip, _ := addrFor(i, transportMem).ValueForProtocol(ma.P_IP4)
		return dnode.WithLibp2pOptions(
			libp2p.NoTransports,
			libp2p.Transport(nw.mem.Constructor(netip.MustParseAddr(ip))),
			memUpgrades,
			libp2p.DisableIdentifyAddressDiscovery(),
		)
	}
	link := simnet.NodeBiDiLinkSettings{
		Downlink: simnet.LinkSettings{BitsPerSecond: cfg.bandwidth},
		Uplink:   simnet.LinkSettings{BitsPerSecond: cfg.bandwidth},
	}
	return dnode.WithLibp2pOptions(
		simlibp2p.QUICSimnet(nw.net, link),
		libp2p.DisableIdentifyAddressDiscovery(),
	)
}

// memUpgrades replaces the host's security transports and muxer config on
// memnet: no security (the insecure transport still exchanges and checks
// the peers' keys, so peer IDs are as on a real network; Noise's crypto
// and buffers test nothing of dnode's), and yamux without keepalive, with
// its RTT measurement once an hour, no read buffer (memnet's reads are
// memory copies) and a backlog of 32 unaccepted streams instead of 256
// (a session's accept queue is allocated at full size; dnode opens a few
// streams a connection).
var memUpgrades libp2p.Option = func(c *p2pconfig.Config) error {
	c.SecurityTransports = nil
	c.Insecure = true
	y := *yamux.DefaultTransport
	y.EnableKeepAlive = false
	y.MeasureRTTInterval = time.Hour
	y.ReadBufSize = 0
	y.AcceptBacklog = 32
	c.Muxers = []tptu.StreamMuxer{{ID: protocol.ID(yamux.ID), Muxer: &y}}
	return nil
}

// admitHandshakes raises the transient connection limits of n's resource
// manager (connections whose security and muxer handshakes are under way)
// to conns. Every node dials the seeds at the same simulated instant, and
// over TCP a connection stays transient for the several round trips of
// its multistream, security and yamux negotiations (QUIC's handshake ends
// before the transport hands the connection over): with libp2p's default
// transient limits a seed refuses most of that burst, and the refused
// nodes retry with their seed sync backoff (at 1000 nodes every slot was
// full after 2m15s simulated instead of 10s). Real nodes do not start in
// the same instant; this is the simulation's thundering herd, so the
// change is the sim's, not dnode's.
func admitHandshakes(t testing.TB, n *dnode.Node, conns int) {
	err := nodeinternal.Host(n).Network().ResourceManager().ViewTransient(func(s network.ResourceScope) error {
		l, ok := s.(rcmgr.ResourceScopeLimiter)
		if !ok {
			return fmt.Errorf("transient scope %T has no settable limit", s)
		}
		b, ok := l.Limit().(*rcmgr.BaseLimit)
		if !ok {
			return fmt.Errorf("transient limit %T is not a BaseLimit", l.Limit())
		}
		nb := *b
		nb.ConnsInbound = max(nb.ConnsInbound, conns)
		nb.Conns = max(nb.Conns, conns)
		nb.FD = max(nb.FD, conns)
		l.SetLimit(&nb)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
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
	nw := &simnetwork{t: t}
	if cfg.transport == transportMem {
		nw.mem = memnet.New(cfg.latency)
	} else {
		nw.net = &simnet.Simnet{LatencyFunc: simnet.StaticLatency(cfg.latency)}
		nw.net.Start()
	}
	t.Cleanup(nw.stop)
	ctx := context.Background()
	var seedAddrs []ma.Multiaddr
	for i := range cfg.seeds {
		key := identity(t)
		s := nodeSettings(t, i, cfg, nil)
		s.Seed.InboundConnections = cfg.nodes + cfg.seeds
		// A seed serves its network as seed.Start does, on its own host.
		n, err := dnode.New(seed.NodeSettings(s, simNetwork),
			dnode.WithLogHandler(testnet.LogHandler(t), "seed", i), dnode.WithIdentity(key), nw.hostOptions(cfg, i),
			dnode.WithWhitelistRecheck(s.Seed.WhitelistRefineryInterval))
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if err := n.Start(ctx); err != nil {
			t.Fatalf("start seed %d: %v", i, err)
		}
		if cfg.transport == transportMem {
			admitHandshakes(t, n, s.Seed.InboundConnections)
		}
		nw.seeds = append(nw.seeds, n)
		seedAddrs = append(seedAddrs, n.Addrs()[0])
	}
	for i := range cfg.nodes {
		s := nodeSettings(t, cfg.seeds+i, cfg, seedAddrs)
		n, err := dnode.New(s, dnode.WithLogHandler(testnet.LogHandler(t), "node", i), dnode.WithIdentity(identity(t)), nw.hostOptions(cfg, cfg.seeds+i))
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
	if nw.net != nil {
		nw.net.Close()
	}
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
