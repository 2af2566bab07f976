// Package testnet provides plain go-libp2p hosts on loopback for unit
// tests of dnode's protocols, so that a protocol can be tested against a
// scripted peer without a whole node.
package testnet

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/x/simlibp2p"
	"github.com/marcopolo/simnet"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/settings"
)

// Host returns a loopback TCP host that is closed at cleanup.
func Host(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// Pair returns two connected hosts and a's connection to b.
func Pair(t testing.TB) (a, b host.Host, conn network.Conn) {
	t.Helper()
	a, b = Host(t), Host(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
	conns := a.Network().ConnsToPeer(b.ID())
	if len(conns) == 0 {
		t.Fatal("no connection")
	}
	return a, b, conns[0]
}

// Settings returns settings for a loopback test node: network "test",
// its own datastore, no RPC, a random TCP port on 127.0.0.1, localnet, 3 s
// connect and handshake timeouts and a 500 ms heartbeat. Callers adjust
// what their tests need.
func Settings(t testing.TB) settings.Settings {
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

// SimPair is Pair on a simulated QUIC network with no latency, for tests
// that run inside a testing/synctest bubble (call it there): real sockets
// would keep the bubble's virtual clock from advancing. The network and
// both hosts are closed at cleanup.
func SimPair(t testing.TB) (a, b host.Host, conn network.Conn) {
	t.Helper()
	router := &simnet.Simnet{LatencyFunc: simnet.StaticLatency(0)}
	link := simnet.NodeBiDiLinkSettings{
		Downlink: simnet.LinkSettings{BitsPerSecond: 1_000 * simlibp2p.OneMbps},
		Uplink:   simnet.LinkSettings{BitsPerSecond: 1_000 * simlibp2p.OneMbps},
	}
	router.Start()
	t.Cleanup(func() { router.Close() })
	newHost := func(ip string) host.Host {
		h, err := libp2p.New(
			libp2p.ListenAddrStrings("/ip4/"+ip+"/udp/8000/quic-v1"),
			libp2p.DisableIdentifyAddressDiscovery(), // stalls synctest (see x/simlibp2p)
			libp2p.DisableRelay(), libp2p.DisableMetrics(),
			simlibp2p.QUICSimnet(router, link),
		)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	a, b = newHost("1.0.0.1"), newHost("1.0.0.2")
	if err := a.Connect(context.Background(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
	conns := a.Network().ConnsToPeer(b.ID())
	if len(conns) == 0 {
		t.Fatal("no connection")
	}
	return a, b, conns[0]
}
