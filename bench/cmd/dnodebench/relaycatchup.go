package main

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/relay"
	ma "github.com/multiformats/go-multiaddr"
)

// Catch-up row: issue 10's "all of 100 missed messages delivered within
// 2 s of reconnecting", with dnode's relay alone (the floods and
// gossipsub never deliver what a node missed, so there is no baseline
// system, only the bound).
const (
	catchUpN      = 40
	catchUpMissed = 100
	catchUpRate   = 20 // messages a second while the node is away
	catchUpRounds = 3
	catchUpBound  = 2 * time.Second
	catchUpWait   = 20 * time.Second // give up on a round after this
)

var errOffline = errors.New("bench: node taken off the network")

// catchUpNet is the relay system with a per-node record of deliveries,
// so that one node's catch-up can be timed.
type catchUpNet struct {
	nodes  []*dnode.Node
	relays []*relay.Relay
	topics []*relay.Topic
	edges  [][2]int

	mu    sync.Mutex
	watch int                  // the node whose deliveries are recorded
	seen  map[string]int       // its deliveries by id (count)
	last  map[string]time.Time // and when it had each
	all   map[string]int       // every node's first deliveries by id
}

func buildCatchUp(edges [][2]int) *catchUpNet {
	c := &catchUpNet{relays: make([]*relay.Relay, catchUpN), topics: make([]*relay.Topic, catchUpN), edges: edges,
		watch: -1, seen: map[string]int{}, last: map[string]time.Time{}, all: map[string]int{}}
	c.nodes, _ = dnodeTopology(catchUpN, edges, nil, func(i int, nd *dnode.Node) {
		r, err := relay.New(nd, relay.Config{}, nil)
		must(err)
		t, err := r.Join(relayBenchTopic)
		must(err)
		t.Handle(func(m *relay.Message) {
			if m.Local {
				return
			}
			id := m.ID.String()
			c.mu.Lock()
			c.all[id]++
			if i == c.watch {
				c.seen[id]++
				c.last[id] = m.Received
			}
			c.mu.Unlock()
		})
		c.relays[i], c.topics[i] = r, t
	})
	return c
}

func (c *catchUpNet) close() {
	for _, r := range c.relays {
		r.Close()
	}
	stopNodes(c.nodes)
}

// offline stops every channel of node k and waits until no node holds
// one to it (the bench's channels are dialed once; nothing redials them).
func (c *catchUpNet) offline(k int) error {
	for _, ch := range c.nodes[k].Channels() {
		ch.Stop(errOffline)
	}
	id := c.nodes[k].ID()
	deadline := time.Now().Add(10 * time.Second)
	for {
		held := len(c.nodes[k].Channels())
		for i, nd := range c.nodes {
			if i == k {
				continue
			}
			for _, ch := range nd.Channels() {
				if ch.Peer() == id {
					held++
				}
			}
		}
		if held == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d channels to node %d still up after 10s", held, k)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// online redials node k's edges, each the way it was first dialed.
func (c *catchUpNet) online(k int) error {
	ctx := context.Background()
	var errs []error
	for _, e := range c.edges {
		if e[0] != k && e[1] != k {
			continue
		}
		b := c.nodes[e[1]]
		full := b.Addrs()[0].Encapsulate(ma.StringCast("/p2p/" + b.ID().String()))
		if _, err := c.nodes[e[0]].Connect(ctx, full, channel.Manual); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// round takes node k off, publishes catchUpMissed messages from random
// other nodes at catchUpRate, waits until every other node has them,
// puts k back and returns how long after the first redial the last of
// them reached k, and how many of them k had (each once: dups counts
// any second copy).
func (c *catchUpNet) round(k int, rng *mrand.Rand) (took time.Duration, got, dups int, err error) {
	c.mu.Lock()
	c.watch, c.seen, c.last = k, map[string]int{}, map[string]time.Time{}
	c.mu.Unlock()
	if err := c.offline(k); err != nil {
		return 0, 0, 0, err
	}
	ids := make([]string, 0, catchUpMissed)
	payload := make([]byte, 1<<10)
	tick := time.NewTicker(time.Second / catchUpRate)
	for len(ids) < catchUpMissed {
		<-tick.C
		i := rng.IntN(catchUpN - 1)
		if i >= k {
			i++
		}
		payload[0], payload[1] = byte(len(ids)), byte(k)
		id, err := c.topics[i].Publish(context.Background(), payload)
		if err != nil {
			tick.Stop()
			return 0, 0, 0, fmt.Errorf("publish: %w", err)
		}
		ids = append(ids, id.String())
	}
	tick.Stop()
	// Every other node has them (k's neighbours hold them in history).
	deadline := time.Now().Add(catchUpWait)
	for !c.reachedOthers(ids) {
		if time.Now().After(deadline) {
			return 0, 0, 0, errors.New("the missed messages did not reach every other node")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.mu.Lock()
	early := len(c.seen)
	c.mu.Unlock()
	if early > 0 {
		return 0, 0, 0, fmt.Errorf("node %d had %d messages while off the network", k, early)
	}
	t0 := time.Now()
	if err := c.online(k); err != nil {
		return 0, 0, 0, fmt.Errorf("redial: %w", err)
	}
	deadline = t0.Add(catchUpWait)
	for {
		c.mu.Lock()
		got, dups = 0, 0
		var lastAt time.Time
		for _, id := range ids {
			if n := c.seen[id]; n > 0 {
				got++
				dups += n - 1
				lastAt = maxTime(lastAt, c.last[id])
			}
		}
		c.mu.Unlock()
		if got == len(ids) {
			return lastAt.Sub(t0), got, dups, nil
		}
		if time.Now().After(deadline) {
			return catchUpWait, got, dups, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *catchUpNet) reachedOthers(ids []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if c.all[id] < catchUpN-2 { // every node but the publisher and k
			return false
		}
	}
	return true
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// relayCatchUp is the catch-up row: on the n = 40 topology, dnode's
// relay alone, catchUpRounds rounds each take a seeded random node off
// the network (its channels stopped, the node and its relay history
// kept), publish catchUpMissed messages of 1 KiB from other nodes, put
// it back along its edges and time from the first redial to the last
// missed message reaching it. A round that misses some counts as
// catchUpWait.
func relayCatchUp(dn rsysKind, _ relayPlan) (row, string) {
	r := row{bench: fmt.Sprintf("relay n=%d 1 KiB: catch-up, all of %d missed messages delivered after reconnecting", catchUpN, catchUpMissed), unit: "s",
		baseName: "bound", target: "≤ 2 s", targetRatio: 1, lowerBetter: true}
	edges := randomTopology(catchUpN, sizeOut, 1)
	c := buildCatchUp(edges)
	defer c.close()
	settle()
	// Warm up: one message from every node, so that trees exist.
	for i := range catchUpN {
		if _, err := c.topics[i].Publish(context.Background(), []byte{byte(i)}); err != nil {
			return r, fmt.Sprintf("relay catch-up: warm-up publish failed: %v", err)
		}
		time.Sleep(time.Second / catchUpRate)
	}
	rng := mrand.New(mrand.NewPCG(7, 8))
	var lines []string
	for round := range catchUpRounds {
		k := rng.IntN(catchUpN)
		took, got, dups, err := c.round(k, rng)
		if err != nil {
			lines = append(lines, fmt.Sprintf("round %d (node %d): not measured: %v", round+1, k, err))
			continue
		}
		r.dnode = append(r.dnode, took.Seconds())
		r.base = append(r.base, catchUpBound.Seconds())
		lines = append(lines, fmt.Sprintf("round %d (node %d, %d edges): %d of %d in %s, %d duplicates to the application", round+1, k, degree(edges, k), got, catchUpMissed, took.Round(time.Millisecond), dups))
		logf("relay catch-up: %s", lines[len(lines)-1])
		settle()
	}
	if dn.name != "relay" && dn.name != "dchat" {
		lines = append(lines, fmt.Sprintf("measured with the relay although the dnode column is %s", dn.name))
	}
	return r, fmt.Sprintf("relay catch-up (n=%d, default relay configuration, every node's channels dialed once along the topology): per round a seeded random node's channels are stopped (the node and its history kept), %d messages of 1 KiB are published from random other nodes at %d/s until every other node has them, then the node's edges are redialed; the time runs from the first redial to the last missed message reaching the node (a round that misses one counts %s). %s.",
		catchUpN, catchUpMissed, catchUpRate, catchUpWait, strings.Join(lines, "; "))
}

func degree(edges [][2]int, k int) int {
	d := 0
	for _, e := range edges {
		if e[0] == k || e[1] == k {
			d++
		}
	}
	return d
}
