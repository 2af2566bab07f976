package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/protocols"
	"github.com/dnode-p2p/dnode/protocols/pb"
	"github.com/dnode-p2p/dnode/protocols/version"
)

// appProto is an application protocol registered the way a library user
// registers theirs; it reuses the Ping message as its payload type.
var appProto = channel.NewProtocol[*pb.Ping]("app", "1.0.0", 64, channel.Metering{})

// registerApp registers appProto on n and returns a channel of received
// nonces.
func registerApp(t testing.TB, n *dnode.Node) <-chan uint64 {
	got := make(chan uint64, 16)
	err := n.Registry().Register(protocols.Registration{
		Name:     "app",
		Sessions: channel.Default,
		Specs:    []*channel.Spec{appProto.Spec()},
		New: func(ch *channel.Channel) (protocols.Protocol, error) {
			sub := appProto.Subscribe(ch, 8)
			return startFunc(func(context.Context) error {
				ch.Go(func(ctx context.Context) {
					for {
						m, err := sub.Receive(ctx)
						if err != nil {
							return
						}
						got <- m.GetNonce()
					}
				})
				return nil
			}), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

type startFunc func(context.Context) error

func (f startFunc) Start(ctx context.Context) error { return f(ctx) }

// An application protocol registered through the registry receives what a
// node broadcasts, on every channel but the ones it names as except; a
// stopped node rejects broadcasts.
func TestAppProtocolBroadcast(t *testing.T) {
	hub := newNode(t, "hub", testSettings(t))
	hubGot := registerApp(t, hub)
	if err := hub.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var (
		leaves  []<-chan uint64
		leafIDs []peer.ID
	)
	for _, name := range []string{"l1", "l2"} {
		s := testSettings(t)
		s.Net.Peers = []ma.Multiaddr{addrOf(t, hub)}
		n := newNode(t, name, s)
		leaves = append(leaves, registerApp(t, n))
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		leafIDs = append(leafIDs, n.ID())
	}
	eventually(t, 10*time.Second, func() error {
		if len(hub.Channels()) != 2 {
			return errorf("hub has %d channels", len(hub.Channels()))
		}
		return nil
	})
	sent, err := hub.Broadcast(appProto.Spec(), &pb.Ping{Nonce: 42})
	if err != nil || sent != 2 {
		t.Fatalf("broadcast: sent=%d err=%v", sent, err)
	}
	receive := func(i int, want uint64) {
		t.Helper()
		select {
		case n := <-leaves[i]:
			if n != want {
				t.Errorf("leaf %d got %d, want %d", i, n, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("leaf %d did not receive broadcast %d", i, want)
		}
	}
	for i := range leaves {
		receive(i, 42)
	}
	// Except: the skipped leaf's next message is the following broadcast
	// (one stream per channel keeps the order), so 43 never reached it.
	skip := hub.Channels()[0]
	if sent, err := hub.Broadcast(appProto.Spec(), &pb.Ping{Nonce: 43}, skip); err != nil || sent != 1 {
		t.Fatalf("broadcast except %s: sent=%d err=%v", skip.Peer(), sent, err)
	}
	if sent, err := hub.Broadcast(appProto.Spec(), &pb.Ping{Nonce: 44}); err != nil || sent != 2 {
		t.Fatalf("broadcast after except: sent=%d err=%v", sent, err)
	}
	for i, id := range leafIDs {
		if id != skip.Peer() {
			receive(i, 43)
		}
		receive(i, 44)
	}
	select {
	case n := <-hubGot:
		t.Errorf("the sender received its own broadcast (%d)", n)
	default:
	}
	if _, err := hub.Broadcast(appProto.Spec(), &pb.PingMessage{}); !errors.Is(err, channel.ErrWrongType) {
		t.Errorf("wrong message type: %v", err)
	}
	if err := hub.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Broadcast(appProto.Spec(), &pb.Ping{}); !errors.Is(err, dnode.ErrNotRunning) {
		t.Errorf("broadcast after stop: %v", err)
	}
	if nodeinternal.RejectedBroadcasts(hub) != 1 {
		t.Errorf("rejected broadcasts = %d, want 1", nodeinternal.RejectedBroadcasts(hub))
	}
}

// A peer that does not announce an application protocol in its Version is
// not sent that protocol's messages, and its channel stays up.
func TestBroadcastSkipsPeersWithoutTheProtocol(t *testing.T) {
	hub := newNode(t, "hub", testSettings(t))
	registerApp(t, hub)
	if err := hub.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := newPlainHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ai, err := peer.AddrInfoFromP2pAddr(addrOf(t, hub))
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
	local := version.Local{AppName: "dnode", AppVersion: dnode.Version,
		Protocols: []string{string(version.ID("test")), "/dnode/test/ping/1.0.0"}}
	if _, err := version.Exchange(ctx, s, s, local, nil, 5*time.Second, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	eventually(t, 5*time.Second, func() error {
		if len(hub.Channels()) != 1 {
			return errorf("no channel")
		}
		return nil
	})
	sent, err := hub.Broadcast(appProto.Spec(), &pb.Ping{Nonce: 1})
	if err != nil || sent != 0 {
		t.Fatalf("broadcast to a peer without the protocol: sent=%d err=%v", sent, err)
	}
	ch := hub.Channels()[0]
	if err := appProto.Send(ch, &pb.Ping{}); !errors.Is(err, channel.ErrUnsupported) {
		t.Errorf("send: %v, want ErrUnsupported", err)
	}
	if ch.Err() != nil {
		t.Errorf("channel stopped: %v", ch.Err())
	}
}
