package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// gossipsubVersion is the go-libp2p-pubsub version this binary was built
// with (bench/go.mod), for the labels of the rows.
var gossipsubVersion = depVersion("github.com/libp2p/go-libp2p-pubsub")

// depVersion returns the version of module path in the binary's build
// info ("unknown" without it).
func depVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "unknown"
}

// gossip is the gossipsub baseline (go-libp2p-pubsub, gossipsubVersion,
// default parameters, StrictNoSign with a content id: the unsigned
// variant) over the given topology: one bare libp2p host per node,
// connected along the edges only, after every host started gossipsub.
type gossip struct {
	trRef
	signed bool
	mesh   []*atomic.Int64 // per host: peers in its topic mesh (Graft - Prune)
	dups   atomic.Uint64   // copies received again, all hosts (the tracer's DuplicateMessage)
	hosts  []host.Host
	topics []*pubsub.Topic
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newGossipVia starts n hosts running gossipsub joined by edges; via, if
// not nil, gives the addresses host a dials to reach host b (a delaying
// proxy). signed selects
// gossipsub's default StrictSign with its default message id (from +
// seqno) instead of StrictNoSign with a content id. extra options are
// given to every host's gossipsub after the benchmark's own.
func newGossipVia(n int, edges [][2]int, signed bool, via func(a, b int, h host.Host) []ma.Multiaddr, extra ...pubsub.Option) *gossip {
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
		mesh := new(atomic.Int64)
		g.mesh = append(g.mesh, mesh)
		opts = append(opts, pubsub.WithRawTracer(&deliverTracer{g: g, self: self, mesh: mesh}))
		opts = append(opts, extra...)
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
			// As dnodeTopology: a dial on a busy machine may time out.
			for try := 0; ; try++ {
				err := g.hosts[e[0]].Connect(ctx, ai)
				if err == nil || try == 2 {
					must(err)
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	// Let the meshes form (heartbeat 1 s): at least 3 s, then until every
	// host's mesh holds min(D_lo, its topic peers) peers at two checks in
	// a row, for up to 10 s more.
	time.Sleep(3 * time.Second)
	steady := 0
	waitFor(10*time.Second, func() bool {
		if g.meshesFormed() {
			steady++
		} else {
			steady = 0
		}
		if steady >= 2 {
			return true
		}
		time.Sleep(400 * time.Millisecond)
		return false
	})
	return g
}

// meshesFormed reports whether every host's mesh holds at least
// min(D_lo, its topic peers) peers.
func (g *gossip) meshesFormed() bool {
	for i, t := range g.topics {
		want := min(int64(pubsub.GossipSubDlo), int64(len(t.ListPeers())))
		if g.mesh[i].Load() < want {
			return false
		}
	}
	return true
}

// meshStats returns the smallest and the mean mesh size over the hosts.
func (g *gossip) meshStats() (int64, float64) {
	least, sum := int64(1<<62), int64(0)
	for _, m := range g.mesh {
		v := m.Load()
		least = min(least, v)
		sum += v
	}
	return least, float64(sum) / float64(len(g.mesh))
}

func (g *gossip) name() string {
	if g.signed {
		return "gossipsub-signed"
	}
	return "gossipsub"
}

func (g *gossip) label() string {
	if g.signed {
		return fmt.Sprintf("gossipsub %s signed (default), same topology", gossipsubVersion)
	}
	return fmt.Sprintf("gossipsub %s unsigned, same topology", gossipsubVersion)
}

// publish sends a new 1 KiB message from node i and returns its id.
func (g *gossip) publish(i int) string { return g.publishSize(i, 1024) }

// publishSize sends a new message of a 16-byte id and size payload
// bytes from node i and returns its id.
func (g *gossip) publishSize(i, size int) string {
	data := make([]byte, 16+size)
	_, _ = rand.Read(data[:16])
	must(g.topics[i].Publish(context.Background(), data))
	return hex.EncodeToString(data[:16])
}

// duplicates counts the copies received again on every host: gossipsub's
// DuplicateMessage, and copies of a host's own message coming back (which
// signed gossipsub rejects as self-origin instead).
func (g *gossip) duplicates() uint64 { return g.dups.Load() }

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
	mesh *atomic.Int64
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
func (t *deliverTracer) Graft(peer.ID, string)                  { t.mesh.Add(1) }
func (t *deliverTracer) Prune(peer.ID, string)                  { t.mesh.Add(-1) }
func (*deliverTracer) ValidateMessage(*pubsub.Message)          {}
func (t *deliverTracer) RejectMessage(_ *pubsub.Message, reason string) {
	if reason == pubsub.RejectSelfOrigin {
		t.g.dups.Add(1)
	}
}
func (t *deliverTracer) DuplicateMessage(*pubsub.Message)                   { t.g.dups.Add(1) }
func (*deliverTracer) ThrottlePeer(peer.ID)                                 {}
func (*deliverTracer) RecvRPC(*pubsub.RPC)                                  {}
func (*deliverTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (*deliverTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (*deliverTracer) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (*deliverTracer) UndeliverableMessage(*pubsub.Message)                 {}
