package integration

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/protocols/version"
)

// newPlainHost returns a go-libp2p host that is not a dnode, closed at
// cleanup.
func newPlainHost(t testing.TB) host.Host {
	t.Helper()
	return newPlainHostWith(t, nil)
}

// newPlainHostWith is newPlainHost with identity key (nil: a new one).
func newPlainHostWith(t testing.TB, key crypto.PrivKey) host.Host {
	t.Helper()
	opts := []libp2p.Option{libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay()}
	if key != nil {
		opts = append(opts, libp2p.Identity(key))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// A plain go-libp2p host connects to a dnode, identifies it (agent and
// dnode's protocol IDs) and pings it over /ipfs/ping/1.0.0.
func TestPlainLibp2pHostIdentifiesAndPings(t *testing.T) {
	d := startNode(t, "d", testSettings(t))
	h := newPlainHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ai, err := peer.AddrInfoFromP2pAddr(addrOf(t, d))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(ctx, *ai); err != nil { // returns after identify
		t.Fatal(err)
	}
	agent, err := h.Peerstore().Get(d.ID(), "AgentVersion")
	if err != nil || agent != dnode.UserAgent {
		t.Errorf("agent = %v (%v), want %s", agent, err, dnode.UserAgent)
	}
	protos, err := h.Peerstore().GetProtocols(d.ID())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []protocol.ID{version.ID("test"), "/dnode/test/ping/1.0.0", ping.ID} {
		if !slices.Contains(protos, want) {
			t.Errorf("identify protocols %v lack %s", protos, want)
		}
	}
	res := <-ping.Ping(ctx, h, d.ID())
	if res.Error != nil || res.RTT <= 0 {
		t.Fatalf("ping: rtt=%s err=%v", res.RTT, res.Error)
	}
	if len(d.Channels()) != 0 {
		t.Error("a non-dnode connection became a channel")
	}
}

// handshakeAsPlainHost completes dnode's version handshake from a plain
// libp2p host, so that the dnode opens an inbound channel for it.
func handshakeAsPlainHost(t testing.TB, ctx context.Context, h host.Host, target ma.Multiaddr) peer.ID {
	t.Helper()
	ai, err := peer.AddrInfoFromP2pAddr(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(ctx, *ai); err != nil {
		t.Fatal(err)
	}
	s, err := h.NewStream(ctx, ai.ID, version.ID("test"))
	if err != nil {
		t.Fatal(err)
	}
	local := version.Local{AppName: "dnode", AppVersion: dnode.Version}
	if _, err := version.Exchange(ctx, s, s, local, nil, 5*time.Second, time.Now()); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	s.Close()
	return ai.ID
}

// A peer that completes the handshake and then sends an oversized or a
// garbage frame on a dnode protocol stream is banned and disconnected,
// and the node keeps serving others.
func TestBadFramesDisconnectPeer(t *testing.T) {
	cases := []struct {
		name  string
		frame []byte
	}{
		{"oversized", binary.AppendUvarint(nil, 1<<20)},
		{"garbage", append(binary.AppendUvarint(nil, 6), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
		{"bad-varint", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := startNode(t, "d", testSettings(t))
			h := newPlainHost(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			handshakeAsPlainHost(t, ctx, h, addrOf(t, d))
			eventually(t, 5*time.Second, func() error {
				if s := sessionsOf(d); s[channel.Inbound] != 1 {
					return errorf("no inbound channel yet: %v", s)
				}
				return nil
			})
			s, err := h.NewStream(ctx, d.ID(), "/dnode/test/ping/1.0.0")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			eventually(t, 5*time.Second, func() error {
				if !nodeinternal.Host(d).Gater.Banned(h.ID(), nil) {
					return errorf("peer not banned")
				}
				if len(d.Channels()) != 0 || len(h.Network().ConnsToPeer(d.ID())) != 0 {
					return errorf("peer still connected")
				}
				return nil
			})
			// The node still serves others.
			sc := testSettings(t)
			sc.Net.Peers = []ma.Multiaddr{addrOf(t, d)}
			c := startNode(t, "c", sc)
			eventually(t, 10*time.Second, func() error {
				if len(c.Channels()) != 1 {
					return errorf("c has no channel with d")
				}
				return nil
			})
		})
	}
}
