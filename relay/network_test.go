package relay

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/internal/testnet"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// TestNetworkExactlyOnce builds 30 nodes on loopback on a random graph
// (each dials 4 others), publishes from every node once (warm-up: every
// origin's tree forms), then 60 messages from random nodes, and checks
// that every message reached every other node's application exactly
// once, and that after the warm-up duplicates per delivery fell to near
// zero.
func TestNetworkExactlyOnce(t *testing.T) {
	const n = 30
	nodes := make([]*tnode, n)
	for i := range nodes {
		nodes[i] = newTNode(t, Config{}, fmt.Sprint(i))
	}
	deg := randomGraph(t, nodes, 4, 1)
	waitLinks(t, nodes, deg)

	ctx := context.Background()
	publish := func(from int, text string) ID {
		id, err := nodes[from].topic.Publish(ctx, []byte(text))
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		return id
	}
	waitAll := func(ids []ID, from []int) {
		testnet.Eventually(t, 30*time.Second, func() error {
			for k, id := range ids {
				for i, nd := range nodes {
					if i == from[k] {
						continue
					}
					if c := nd.count(id); c != 1 {
						return fmt.Errorf("node %d has message %d %d times", i, k, c)
					}
				}
			}
			return nil
		})
	}
	var ids []ID
	var from []int
	for i := range nodes {
		ids = append(ids, publish(i, fmt.Sprintf("warm-up %d", i)))
		from = append(from, i)
	}
	waitAll(ids, from)
	quiet(t, nodes)
	logTotals(t, "warm-up", nodes)
	dup0, recv0 := totals(nodes)

	rng := newRand(2)
	ids, from = nil, nil
	for k := range 60 {
		i := rng.IntN(n)
		ids = append(ids, publish(i, fmt.Sprintf("message %d", k)))
		from = append(from, i)
		time.Sleep(5 * time.Millisecond) // a publishing rate, not a wait for a condition
	}
	waitAll(ids, from)
	quiet(t, nodes)
	logTotals(t, "after", nodes)
	dup1, recv1 := totals(nodes)
	deliveries := recv1 - recv0
	if deliveries != uint64(60*(n-1)) {
		t.Fatalf("%d deliveries after warm-up, want %d", deliveries, 60*(n-1))
	}
	perDelivery := float64(dup1-dup0) / float64(deliveries)
	t.Logf("warm-up: %.2f duplicates per delivery; after: %.3f", float64(dup0)/float64(recv0), perDelivery)
	if perDelivery > 0.05 {
		t.Errorf("%.3f duplicates per delivery after warm-up, want near zero (≤ 0.05)", perDelivery)
	}
}

// totals sums duplicates and receptions over nodes.
func totals(nodes []*tnode) (dups, recv uint64) {
	for _, nd := range nodes {
		s := nd.relay.Stats()
		dups += s.Duplicates
		recv += s.Received
	}
	return dups, recv
}

func logTotals(t testing.TB, phase string, nodes []*tnode) {
	var s Stats
	for _, nd := range nodes {
		x := nd.relay.Stats()
		s.Received += x.Received
		s.Duplicates += x.Duplicates
		s.Grafts += x.Grafts
		s.Prunes += x.Prunes
		s.Optimized += x.Optimized
		s.Fetches += x.Fetches
		s.Announced += x.Announced
		s.Eager += x.Eager
		s.Lazy += x.Lazy
	}
	t.Logf("%s: received %d, duplicates %d, grafts %d, prunes %d, optimized %d, fetches %d, announced %d, eager %d lazy %d",
		phase, s.Received, s.Duplicates, s.Grafts, s.Prunes, s.Optimized, s.Fetches, s.Announced, s.Eager, s.Lazy)
}
