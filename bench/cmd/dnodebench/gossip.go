package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// gossip is the gossipsub baseline (go-libp2p-pubsub v0.17.0, default
// parameters, StrictNoSign with a content id: the unsigned variant) over
// the given topology: one bare libp2p host per node, connected along the
// edges only, after every host started gossipsub.
type gossip struct {
	trRef
	signed bool
	hosts  []host.Host
	topics []*pubsub.Topic
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newGossip(n int, edges [][2]int, signed bool) *gossip {
	return newGossipVia(n, edges, signed, nil)
}

// newGossipVia is newGossip where via, if not nil, gives the addresses
// host a dials to reach host b (a delaying proxy). signed selects
// gossipsub's default StrictSign with its default message id (from +
// seqno) instead of StrictNoSign with a content id.
func newGossipVia(n int, edges [][2]int, signed bool, via func(a, b int, h host.Host) []ma.Multiaddr) *gossip {
	ctx, cancel := context.WithCancel(context.Background())
	g := &gossip{cancel: cancel, signed: signed}
	for range n {
		g.hosts = append(g.hosts, newBareHost())
	}
	// Every host runs gossipsub before any connection exists: a host
	// that opens its pubsub stream to a peer not yet running pubsub gives
	// up on that peer, which leaves meshes broken at random.
	for _, h := range g.hosts {
		opts := []pubsub.Option{
			pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
			pubsub.WithMessageIdFn(func(m *pb.Message) string { return string(m.GetData()[:16]) }),
		}
		if signed {
			opts = nil
		}
		self := h.ID()
		opts = append(opts, pubsub.WithRawTracer(&deliverTracer{g: g, self: self}))
		ps, err := pubsub.NewGossipSub(ctx, h, opts...)
		must(err)
		t, err := ps.Join("bench")
		must(err)
		sub, err := t.Subscribe()
		must(err)
		g.topics = append(g.topics, t)
		g.wg.Go(func() { // deliveries are timed by the tracer; drain
			for {
				if _, err := sub.Next(ctx); err != nil {
					return
				}
			}
		})
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, e := range edges {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ai := addrInfo(g.hosts[e[1]])
			if via != nil {
				ai.Addrs = via(e[0], e[1], g.hosts[e[1]])
			}
			must(g.hosts[e[0]].Connect(ctx, ai))
		})
	}
	wg.Wait()
	time.Sleep(3 * time.Second) // let the meshes form (heartbeat 1 s)
	return g
}

func (g *gossip) name() string {
	if g.signed {
		return "gossipsub-signed"
	}
	return "gossipsub"
}

// publish sends a new 1 KiB message from node i and returns its id.
func (g *gossip) publish(i int) string {
	data := make([]byte, 16+1024)
	_, _ = rand.Read(data[:16])
	must(g.topics[i].Publish(context.Background(), data))
	return hex.EncodeToString(data[:16])
}

func (g *gossip) close() {
	g.cancel()
	g.wg.Wait()
	for _, h := range g.hosts {
		h.Close()
	}
}

// peers returns the mean number of topic peers a node knows and the mean
// number of connections per host.
func (g *gossip) peers() (float64, float64) {
	t, c := 0, 0
	for i, tp := range g.topics {
		t += len(tp.ListPeers())
		c += len(g.hosts[i].Network().Conns())
	}
	return float64(t) / float64(len(g.topics)), float64(c) / float64(len(g.hosts))
}

// deliverTracer times deliveries where pubsub delivers them (notifySubs,
// in its event loop), as the floods do in their readers and dnode in
// dchat (Message.Received): not when a subscriber goroutine gets to run.
type deliverTracer struct {
	g    *gossip
	self peer.ID
}

func (t *deliverTracer) DeliverMessage(m *pubsub.Message) {
	if m.ReceivedFrom != t.self && len(m.Data) >= 16 {
		t.g.get().got(hex.EncodeToString(m.Data[:16]), time.Now())
	}
}

func (*deliverTracer) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (*deliverTracer) OnClosedOutboundStream(peer.ID)           {}
func (*deliverTracer) AddPeer(peer.ID, protocol.ID)             {}
func (*deliverTracer) RemovePeer(peer.ID)                       {}
func (*deliverTracer) Join(string)                              {}
func (*deliverTracer) Leave(string)                             {}
func (*deliverTracer) Graft(peer.ID, string)                    {}
func (*deliverTracer) Prune(peer.ID, string)                    {}
func (*deliverTracer) ValidateMessage(*pubsub.Message)          {}
func (*deliverTracer) RejectMessage(*pubsub.Message, string)    {}
func (*deliverTracer) DuplicateMessage(*pubsub.Message)         {}
func (*deliverTracer) ThrottlePeer(peer.ID)                     {}
func (*deliverTracer) RecvRPC(*pubsub.RPC)                      {}
func (*deliverTracer) SendRPC(*pubsub.RPC, peer.ID)             {}
func (*deliverTracer) DropRPC(*pubsub.RPC, peer.ID)             {}
func (*deliverTracer) UndeliverableMessage(*pubsub.Message)     {}
