package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
)

// edgeWait bounds how long dnodeTopology waits for both ends of every
// edge to hold their channel.
const edgeWait = 60 * time.Second

// dnodeTopology starts n dnode nodes and connects them along edges with
// manual channels: no seed and no outbound slots (nodeSettings: localnet,
// 4096 inbound), e[0] dials e[1], through a delaying proxy from ps when
// ps is not nil. setup(i, node), if not nil, registers node i's protocols
// before it starts; it runs on several goroutines at once, for different
// i. dnodeTopology returns when both ends of every edge hold a channel to
// each other, or after edgeWait with missing > 0, the edges that did not.
// It panics if a node does not start or an edge cannot be dialed (three
// tries). The caller stops the nodes (stopNodes).
func dnodeTopology(n int, edges [][2]int, ps *proxies, setup func(i int, nd *dnode.Node)) (nodes []*dnode.Node, missing int) {
	nodes = make([]*dnode.Node, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var s func(*dnode.Node)
			if setup != nil {
				s = func(nd *dnode.Node) { setup(i, nd) }
			}
			nodes[i] = newNode(nodeSettings(tempDir()), s)
		})
	}
	wg.Wait()
	ctx := context.Background()
	for _, e := range edges {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			b := nodes[e[1]]
			addr := b.Addrs()[0]
			if ps != nil {
				addr = ma.StringCast("/ip4/127.0.0.1/tcp/" + portOf(ps.to(tcpAddr(addr))))
			}
			full := addr.Encapsulate(ma.StringCast("/p2p/" + b.ID().String()))
			for try := 0; ; try++ {
				_, err := nodes[e[0]].Connect(ctx, full, channel.Manual)
				if err == nil || try == 2 {
					must(err)
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	// Connect returns once the dialer's channel runs; the listener's may
	// start a moment later.
	deadline := time.Now().Add(edgeWait)
	for missing = missingEdges(nodes, edges); missing > 0 && time.Now().Before(deadline); missing = missingEdges(nodes, edges) {
		time.Sleep(50 * time.Millisecond)
	}
	if missing > 0 {
		logf("dnode topology: %d of %d edges without a channel at both ends after %s", missing, len(edges), edgeWait)
	}
	return nodes, missing
}

// missingEdges counts the edges whose two ends do not both hold a
// channel to each other.
func missingEdges(nodes []*dnode.Node, edges [][2]int) int {
	index := make(map[peer.ID]int, len(nodes))
	for i, nd := range nodes {
		index[nd.ID()] = i
	}
	have := make(map[[2]int]bool, 2*len(edges))
	for i, nd := range nodes {
		for _, ch := range nd.Channels() {
			if j, ok := index[ch.Peer()]; ok {
				have[[2]int{i, j}] = true
			}
		}
	}
	k := 0
	for _, e := range edges {
		if !have[[2]int{e[0], e[1]}] || !have[[2]int{e[1], e[0]}] {
			k++
		}
	}
	return k
}

// checkEdges fails when an edge lost its channel (dnode does not redial
// a channel opened with Connect): for an rsys's check on dnode nodes.
func checkEdges(nodes []*dnode.Node, edges [][2]int) error {
	if k := missingEdges(nodes, edges); k > 0 {
		return fmt.Errorf("%d of %d edges lost their channel", k, len(edges))
	}
	return nil
}

// stopWatch counts the channels that stop on a set of nodes, by reason,
// from its start until close (each end of a channel counts).
type stopWatch struct {
	subs []*events.Subscription
	wg   sync.WaitGroup
	mu   sync.Mutex
	why  map[string]int
}

func watchStops(nodes []*dnode.Node) *stopWatch {
	w := &stopWatch{why: map[string]int{}}
	for _, nd := range nodes {
		sub := nd.Events().Subscribe(256)
		w.subs = append(w.subs, sub)
		w.wg.Go(func() {
			for e := range sub.C() {
				if e.Kind != events.ChannelStopped {
					continue
				}
				why := e.Err
				if len(why) > 80 {
					why = why[:80] + "…"
				}
				w.mu.Lock()
				w.why[why]++
				w.mu.Unlock()
			}
		})
	}
	return w
}

// summary is "none" or the count and the reasons, most frequent first.
func (w *stopWatch) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	total := 0
	for _, k := range w.why {
		total += k
	}
	if total == 0 {
		return "none"
	}
	reasons := slices.Collect(maps.Keys(w.why))
	slices.SortFunc(reasons, func(a, b string) int { return w.why[b] - w.why[a] })
	var parts []string
	for _, r := range reasons {
		parts = append(parts, fmt.Sprintf("%d × %q", w.why[r], r))
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// close stops watching.
func (w *stopWatch) close() {
	for _, s := range w.subs {
		s.Close()
	}
	w.wg.Wait()
}

// stopNodes stops every node, all at once.
func stopNodes(nodes []*dnode.Node) {
	var wg sync.WaitGroup
	for _, nd := range nodes {
		wg.Go(func() { _ = nd.Stop() })
	}
	wg.Wait()
}
