package sessions

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/x/simlibp2p"
	"github.com/marcopolo/simnet"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/internal/logging"
	"github.com/dnode-p2p/dnode/protocols"
	"github.com/dnode-p2p/dnode/protocols/pb"
	"github.com/dnode-p2p/dnode/protocols/version"
	"github.com/dnode-p2p/dnode/settings"
)

// The fixtures of the tests that drive the Manager and the sessions over
// real libp2p hosts: go-libp2p's simulated QUIC network (simnet) inside a
// testing/synctest bubble, so that timeouts run in virtual time and a test
// of a 10 s handshake timeout takes no real time. Everything here must be
// built inside the bubble (synctest.Test's function); cleanup stops it in
// reverse order (managers, hosts, then the network).

const (
	testNetwork = "test"
	// simLatency is the one-way latency of every simulated packet.
	simLatency = time.Millisecond
	// testConnectTimeout and testHandshakeTimeout are the quic profile's
	// timeouts in simSettings.
	testConnectTimeout   = 4 * time.Second
	testHandshakeTimeout = 3 * time.Second
)

// simNet is a simulated network in a synctest bubble.
type simNet struct {
	t      *testing.T
	router *simnet.Simnet
	logs   logging.Factory
}

// newSimNet starts a simulated network, closed at cleanup.
func newSimNet(t *testing.T) *simNet {
	t.Helper()
	handler := testLogHandler(t)
	r := &simnet.Simnet{LatencyFunc: simnet.StaticLatency(simLatency), Logger: slog.New(handler)}
	r.Start()
	t.Cleanup(func() { r.Close() })
	return &simNet{t: t, router: r, logs: logging.New(handler)}
}

// testLogHandler writes logs to t.Log at debug level when DNODE_TEST_LOG
// is set, and drops them otherwise (internal/testnet.LogHandler, which
// this package cannot import: testnet imports dnode, which imports
// sessions).
func testLogHandler(t *testing.T) slog.Handler {
	if os.Getenv("DNODE_TEST_LOG") == "" {
		return slog.DiscardHandler
	}
	return slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// simAddr is the simulated QUIC listen address on ip.
func simAddr(ip string) ma.Multiaddr {
	return ma.StringCast("/ip4/" + ip + "/udp/8000/quic-v1")
}

// p2pAddr is a with /p2p/id.
func p2pAddr(a ma.Multiaddr, id peer.ID) ma.Multiaddr {
	return a.Encapsulate(ma.StringCast("/p2p/" + id.String()))
}

func (n *simNet) libp2pOptions() []libp2p.Option {
	link := simnet.NodeBiDiLinkSettings{
		Downlink: simnet.LinkSettings{BitsPerSecond: 100 * simlibp2p.OneMbps},
		Uplink:   simnet.LinkSettings{BitsPerSecond: 100 * simlibp2p.OneMbps},
	}
	return []libp2p.Option{
		simlibp2p.QUICSimnet(n.router, link),
		libp2p.DisableIdentifyAddressDiscovery(), // stalls synctest (see x/simlibp2p)
	}
}

func newKey(t *testing.T) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyWhere returns a fresh key whose peer ID satisfies ok (for tests of
// rules that compare peer IDs).
func keyWhere(t *testing.T, ok func(peer.ID) bool) crypto.PrivKey {
	t.Helper()
	for {
		k := newKey(t)
		id, err := peer.IDFromPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if ok(id) {
			return k
		}
	}
}

// simSettings are settings for a test node: no localnet (netgroups
// count; the simulated addresses are global), the quic profile's
// timeouts shortened to testConnectTimeout and testHandshakeTimeout.
func simSettings() settings.Settings {
	s := settings.Default()
	s.Network = testNetwork
	s.Net.Localnet = false
	p := s.Net.Profile(settings.ProfileQUIC)
	p.OutboundConnectTimeout = testConnectTimeout
	p.ChannelHandshakeTimeout = testHandshakeTimeout
	s.Net.Profiles[settings.ProfileQUIC] = p
	return s
}

// testNode is a Manager on its own dnode host on the simulated network,
// with its own address book and protocol registry.
type testNode struct {
	m    *Manager
	h    *dhost.Host
	book *addrbook.Book
	reg  *protocols.Registry
	addr ma.Multiaddr // the listen address, with /p2p/
}

func (tn *testNode) id() peer.ID { return tn.h.ID() }

// info is the node's address for Connect.
func (tn *testNode) info() peer.AddrInfo {
	ai, _ := peer.AddrInfoFromP2pAddr(tn.addr)
	return *ai
}

// entry is the node's address book entry.
func (tn *testNode) entry() addrbook.Entry {
	return addrbook.Entry{Addr: tn.addr, Peer: tn.id(), LastSeen: time.Now()}
}

// node starts a Manager listening on ip with settings s (simSettings if
// nil); it is stopped at cleanup.
func (n *simNet) node(ip string, s *settings.Settings) *testNode {
	t := n.t
	t.Helper()
	if s == nil {
		d := simSettings()
		s = &d
	}
	h, err := dhost.New(dhost.Config{
		Identity:      newKey(t),
		Listen:        []ma.Multiaddr{simAddr(ip)},
		InboundLimit:  16,
		OutboundLimit: 16,
		Logs:          n.logs,
		Libp2pOptions: n.libp2pOptions(),
	})
	if err != nil {
		t.Fatalf("host on %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = h.Close() })
	reg := protocols.NewRegistry()
	book := addrbook.New(addrbook.Config{Localnet: s.Net.Localnet, Self: h.ID()})
	m := NewManager(Config{Host: h, Network: testNetwork, Settings: *s, Registry: reg, Book: book, Logs: n.logs})
	m.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop manager on %s: %v", ip, err)
		}
	})
	return &testNode{m: m, h: h, book: book, reg: reg, addr: p2pAddr(simAddr(ip), h.ID())}
}

// deadEntry is a book entry for a fresh peer at ip, where nothing
// listens: a dial to it gets no answer and fails at the connect timeout.
func (n *simNet) deadEntry(ip string) addrbook.Entry {
	t := n.t
	t.Helper()
	id, err := peer.IDFromPrivateKey(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return addrbook.Entry{Addr: p2pAddr(simAddr(ip), id), Peer: id, LastSeen: time.Now()}
}

// wirePeer is the fake channel: a plain libp2p host that speaks the
// version handshake on the wire as scripted, without a Manager.
type wirePeer struct {
	h    host.Host
	addr ma.Multiaddr // with /p2p/
}

func (w *wirePeer) info() peer.AddrInfo {
	ai, _ := peer.AddrInfoFromP2pAddr(w.addr)
	return *ai
}

// wireNever makes a wire peer read our Version and never answer.
const wireNever time.Duration = -1

// wirePeer starts a wire peer listening on ip that serves the version
// protocol of network netID: it reads the Version, waits delay (wireNever: until
// the stream is reset) and then completes the handshake as a compatible
// dnode would. It is closed at cleanup.
func (n *simNet) wirePeer(ip, netID string, delay time.Duration) *wirePeer {
	n.t.Helper()
	return n.wirePeerWith(newKey(n.t), ip, netID, delay)
}

// wirePeerWith is wirePeer with identity key.
func (n *simNet) wirePeerWith(key crypto.PrivKey, ip, netID string, delay time.Duration) *wirePeer {
	t := n.t
	t.Helper()
	opts := append([]libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrs(simAddr(ip)),
		libp2p.DisableRelay(), libp2p.DisableMetrics(),
	}, n.libp2pOptions()...)
	h, err := libp2p.New(opts...)
	if err != nil {
		t.Fatalf("wire peer on %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = h.Close() })
	app := settings.Default()
	h.SetStreamHandler(version.ID(netID), func(s network.Stream) {
		defer func() { _ = s.Reset() }()
		if err := channel.ReadFrame(s, &pb.Version{}, version.MaxVersionBytes); err != nil {
			return
		}
		if delay == wireNever {
			_, _ = io.Copy(io.Discard, io.LimitReader(s, 1<<16)) // until the reset
			return
		}
		time.Sleep(delay)
		v := &pb.Version{AppName: app.AppName, AppVersion: app.AppVersion, Timestamp: uint64(time.Now().Unix())}
		if channel.WriteFrame(s, v, version.MaxVersionBytes) != nil {
			return
		}
		if channel.ReadFrame(s, &pb.Verack{}, version.MaxVerackBytes) != nil {
			return
		}
		if channel.WriteFrame(s, &pb.Verack{AppName: app.AppName, AppVersion: app.AppVersion}, version.MaxVerackBytes) != nil {
			return
		}
		_ = s.CloseWrite()
		_, _ = io.Copy(io.Discard, io.LimitReader(s, 1<<16)) // until our side closes
	})
	return &wirePeer{h: h, addr: p2pAddr(simAddr(ip), h.ID())}
}

// waitFor polls cond every 10 ms of virtual time until it returns nil, and
// fails the test with its last error once timeout (virtual) has passed.
// In the bubble, each sleep advances the clock as soon as every goroutine
// is blocked; it costs no real time.
func waitFor(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// connected waits until a and b each have a channel with the other.
func connected(t *testing.T, a, b *testNode) (ab, ba *channel.Channel) {
	t.Helper()
	waitFor(t, 5*time.Second, func() error {
		ab, ba = a.m.Channel(b.id()), b.m.Channel(a.id())
		if ab == nil || ba == nil {
			return fmt.Errorf("channels %v and %v", ab, ba)
		}
		return nil
	})
	return ab, ba
}
