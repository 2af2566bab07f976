package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/internal/socks5test"
	"github.com/dnode-p2p/dnode/internal/tortest"
)

// inboundLog records the remote address of every inbound connection a
// host accepts, by peer.
type inboundLog struct {
	network.NoopNotifiee
	mu    sync.Mutex
	addrs map[peer.ID][]ma.Multiaddr
}

func watchInbound(n *dnode.Node) *inboundLog {
	l := &inboundLog{addrs: map[peer.ID][]ma.Multiaddr{}}
	nodeinternal.Host(n).Network().Notify(l)
	return l
}

func (l *inboundLog) Connected(_ network.Network, c network.Conn) {
	if c.Stat().Direction != network.DirInbound {
		return
	}
	l.mu.Lock()
	l.addrs[c.RemotePeer()] = append(l.addrs[c.RemotePeer()], c.RemoteMultiaddr())
	l.mu.Unlock()
}

func (l *inboundLog) from(p peer.ID) []ma.Multiaddr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ma.Multiaddr(nil), l.addrs[p]...)
}

// tcpPort returns the TCP port a node's listener was given (not an
// external address's).
func tcpPort(t testing.TB, n *dnode.Node) string {
	t.Helper()
	for _, a := range nodeinternal.Host(n).Network().ListenAddresses() {
		if p, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			return p
		}
	}
	t.Fatalf("%s listens on no TCP port", n.ID())
	return ""
}

// A node with net.proxy reaches its seed, its manual peer and the peers
// its outbound slots found only through the proxy: the proxy saw a
// CONNECT for each, the seed and manual peer by names only the proxy can
// resolve (.invalid names, which no DNS resolves; sent as SOCKS5 domain
// names), every inbound connection the dialed nodes got from it came
// from one of the proxy's upstream sockets, and the node's host never
// asked for a local DNS lookup.
func TestProxyAllOutboundThroughSOCKS5(t *testing.T) {
	seedNode := startNode(t, "seed", discoverySettings(t))
	seedAddr := addrOf(t, seedNode)
	var others []*dnode.Node
	for i := range 2 {
		s := discoverySettings(t, seedAddr)
		s.Net.OutboundConnections = 1
		others = append(others, startNode(t, fmt.Sprintf("n%d", i), s))
	}
	manual := startNode(t, "manual", testSettings(t))
	eventually(t, 20*time.Second, func() error {
		if n := nodeinternal.Book(seedNode).Len(addrbook.Grey) + nodeinternal.Book(seedNode).Len(addrbook.White) + nodeinternal.Book(seedNode).Len(addrbook.Gold); n < 2 {
			return errorf("seed knows %d hosts, want 2", n)
		}
		return nil
	})

	px := socks5test.Start(t, map[string]string{
		"seed.dnode-test.invalid":   "127.0.0.1",
		"manual.dnode-test.invalid": "127.0.0.1",
	})
	s := discoverySettings(t, ma.StringCast(fmt.Sprintf("/dns4/seed.dnode-test.invalid/tcp/%s/p2p/%s", tcpPort(t, seedNode), seedNode.ID())))
	s.Net.Peers = []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/dns4/manual.dnode-test.invalid/tcp/%s/p2p/%s", tcpPort(t, manual), manual.ID()))}
	s.Net.OutboundConnections = 2
	s.Net.Proxy = px.URL()
	x := newNode(t, "proxied", s)

	dialed := append([]*dnode.Node{seedNode, manual}, others...)
	logs := make([]*inboundLog, len(dialed))
	for i, n := range dialed {
		logs[i] = watchInbound(n)
	}
	if err := x.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		got := sessionsOf(x)
		if got[channel.Manual] != 1 || got[channel.Outbound] != 2 {
			return errorf("sessions %v, want 1 manual and 2 outbound", got)
		}
		for i, n := range dialed {
			if len(logs[i].from(x.ID())) == 0 {
				return errorf("node %d (%s) has seen no connection from the proxied node", i, n.ID())
			}
		}
		return nil
	})

	for i, n := range dialed {
		for _, a := range logs[i].from(x.ID()) {
			na, err := manet.ToNetAddr(a)
			if err != nil {
				t.Fatalf("inbound address %s: %v", a, err)
			}
			if !px.Upstream(na.String()) {
				t.Errorf("node %d (%s) got a connection from %s, not from the proxy", i, n.ID(), a)
			}
		}
	}
	connects := px.Connects()
	names := map[string]bool{}
	for _, c := range connects {
		if c.Domain {
			names[c.Target[:strings.LastIndex(c.Target, ":")]] = c.Err == ""
		}
	}
	for _, want := range []string{"seed.dnode-test.invalid", "manual.dnode-test.invalid"} {
		if !names[want] {
			t.Errorf("no successful domain-name CONNECT for %s; CONNECTs: %+v", want, connects)
		}
	}
	st := nodeinternal.Host(x).Proxy
	if st == nil {
		t.Fatal("host has no proxy stats")
	}
	if n := st.RefusedLookups.Load(); n != 0 {
		t.Errorf("the swarm asked for %d local DNS lookups", n)
	}
	if d, c := st.Dials.Load(), uint64(len(connects)); d != c {
		t.Errorf("%d dials handed to the proxy, the proxy saw %d CONNECTs", d, c)
	}
	// Every outbound connection of the proxied node names its target,
	// not the proxy.
	proxyAddr := ma.StringCast("/ip4/127.0.0.1/tcp/" + px.Addr()[strings.LastIndex(px.Addr(), ":")+1:])
	for _, c := range nodeinternal.Host(x).Network().Conns() {
		if c.Stat().Direction == network.DirOutbound && c.RemoteMultiaddr().Equal(proxyAddr) {
			t.Errorf("outbound connection reports the proxy %s as its remote end", c.RemoteMultiaddr())
		}
	}
}

// An /onion3 manual peer is dialed through the proxy as
// "<56 chars>.onion:<port>"; without a proxy the node cannot dial it.
func TestProxyOnionPeer(t *testing.T) {
	const onion = "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd"
	target := startNode(t, "onion", testSettings(t))
	px := socks5test.Start(t, map[string]string{onion + ".onion": "127.0.0.1"})
	peerAddr := ma.StringCast(fmt.Sprintf("/onion3/%s:%s/p2p/%s", onion, tcpPort(t, target), target.ID()))

	direct := testSettings(t)
	direct.Net.Peers = []ma.Multiaddr{peerAddr}
	d := startNode(t, "direct", direct)
	_, err := d.Connect(context.Background(), peerAddr, channel.Direct)
	if err == nil {
		t.Fatal("a node without a proxy dialed an onion")
	}

	s := testSettings(t)
	s.Net.Peers = []ma.Multiaddr{peerAddr}
	s.Net.Proxy = px.URL()
	x := startNode(t, "proxied", s)
	eventually(t, 20*time.Second, func() error {
		if got := sessionsOf(x)[channel.Manual]; got != 1 {
			return errorf("%d manual channels, want 1", got)
		}
		return nil
	})
	want := onion + ".onion:" + tcpPort(t, target)
	for _, c := range px.Connects() {
		if c.Target != want || !c.Domain || c.Err != "" {
			t.Errorf("CONNECT %+v, want only %s by name", c, want)
		}
	}
	if got := sessionsOf(d)[channel.Manual]; got != 0 {
		t.Errorf("the node without a proxy has %d manual channels to the onion", got)
	}
}

// The onion path end to end: a node with tor_control (a fake control
// port) publishes an onion and advertises it on an outbound channel; the
// peer without a proxy keeps it on its dark list and passes it on; a node
// with a proxy learns it from that peer (as a seed) and its outbound slot
// reaches the onion's node through the proxy.
func TestOnionAdvertisedAndDialedThroughProxy(t *testing.T) {
	tor := tortest.Start(t, "NULL")
	s := discoverySettings(t)
	s.Net.TorControl = tor.Addr()
	// With external_addrs set the onion is added to them (the host's own
	// addresses, which carry it too, are then not what is advertised).
	// Its value does not matter here: the middle node (not localnet)
	// drops it, and the onion service forwards to the listener's port.
	s.Net.ExternalAddrs = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/4001")}
	onionNode := startNode(t, "onion", s)
	onion := nodeinternal.Host(onionNode).OnionAddr()
	if onion == nil {
		t.Fatal("no onion address published")
	}
	full := onion.Encapsulate(ma.StringCast("/p2p/" + onionNode.ID().String()))

	// Without localnet the middle node drops the onion node's loopback
	// address, so the onion is the only way to it the middle passes on.
	ms := discoverySettings(t)
	ms.Net.Localnet = false
	middle := startNode(t, "middle", ms)
	if _, err := onionNode.Connect(context.Background(), addrOf(t, middle), channel.Outbound); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		for _, e := range nodeinternal.Book(middle).Entries(addrbook.Dark) {
			if e.Addr.Equal(full) {
				return nil
			}
		}
		return errorf("%s not on the dark list of a node without a proxy", full)
	})

	px := socks5test.Start(t, map[string]string{tortest.ServiceID + ".onion": "127.0.0.1"})
	ps := discoverySettings(t, addrOf(t, middle))
	ps.Net.Proxy = px.URL()
	ps.Net.OutboundConnections = 1
	x := startNode(t, "proxied", ps)
	eventually(t, 30*time.Second, func() error {
		for _, ch := range x.Channels() {
			if ch.Peer() == onionNode.ID() && ch.Session() == channel.Outbound {
				return nil
			}
		}
		return errorf("no outbound channel to the onion's node; channels %v", sessionsOf(x))
	})
	want := tortest.ServiceID + ".onion:" + tcpPort(t, onionNode)
	found := false
	for _, c := range px.Connects() {
		found = found || (c.Target == want && c.Domain && c.Err == "")
	}
	if !found {
		t.Errorf("no CONNECT to %s: %+v", want, px.Connects())
	}
}
