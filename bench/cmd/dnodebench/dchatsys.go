package main

import (
	"fmt"
	"strings"
	"sync"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/dchat"
)

// dchatSys is today's dnode broadcast, dchat (a flood through
// Node.BroadcastExcept), on dnode nodes connected by manual channels along
// the topology (dnodeTopology), with MaxText raised to the largest
// payload. Deliveries are timed by dchat.Message.Received, read from one
// subscription per node.
type dchatSys struct {
	trRef
	nodes []*dnode.Node
	chats []*dchat.Chat
	subs  []*dchat.Subscription
	wg    sync.WaitGroup

	edges   [][2]int
	missing int // edges without a channel at both ends once built (dnodeTopology)
	stops   *stopWatch

	mu     sync.Mutex
	texts  map[int]string // payload text by size
	failed int            // Sends that returned an error
}

// dchatBuffer is each Chat's Recv buffer: small, since the benchmark
// never reads it and 1 MiB messages would otherwise pile up (1000 per
// node by default).
const dchatBuffer = 16

func buildDchat(b rbuild) rsys {
	d := &dchatSys{chats: make([]*dchat.Chat, b.n), texts: map[int]string{}, edges: b.edges}
	cfg := dchat.Config{MaxText: max(b.maxSize, dchat.DefaultMaxText), BufferSize: dchatBuffer}
	d.set(newTracker())
	d.nodes, d.missing = dnodeTopology(b.n, b.edges, b.ps, func(i int, nd *dnode.Node) {
		c, err := dchat.New(nd, cfg)
		must(err)
		d.chats[i] = c
	})
	d.stops = watchStops(d.nodes)
	for _, c := range d.chats {
		sub := c.Subscribe(4096)
		d.subs = append(d.subs, sub)
		d.wg.Go(func() {
			for m := range sub.C() {
				d.get().got(m.ID, m.Received)
			}
		})
	}
	return d
}

func (d *dchatSys) name() string { return "dchat" }

func (d *dchatSys) label() string { return "dnode dchat (flood), same topology" }

func (d *dchatSys) publishSize(i, size int) string {
	d.mu.Lock()
	text, ok := d.texts[size]
	if !ok {
		text = strings.Repeat("x", size)
		d.texts[size] = text
	}
	d.mu.Unlock()
	m, err := d.chats[i].Send(text)
	if err != nil {
		d.mu.Lock()
		d.failed++
		k := d.failed
		d.mu.Unlock()
		if k == 1 {
			logf("dchat: Send from node %d failed (counted as never delivered; logged once): %v", i, err)
		}
		return fmt.Sprintf("unsent-%d", k)
	}
	return m.ID
}

// duplicates is the sum of the nodes' dchat Stats.Duplicates (an id
// already seen, or our own message back).
func (d *dchatSys) duplicates() uint64 {
	var k uint64
	for _, c := range d.chats {
		k += c.Stats().Duplicates
	}
	return k
}

// check fails when an edge lost its channel: the network is rebuilt (its
// notes say why the channels stopped).
func (d *dchatSys) check() error { return checkEdges(d.nodes, d.edges) }

// notes reports what went wrong during the run: failed Sends, deliveries
// dropped by a full subscription (the tracker missed them), messages
// rejected, edges missing once built and at the end, channels stopped.
func (d *dchatSys) notes() []string {
	var dropped, rejected uint64
	for i, s := range d.subs {
		dropped += s.Dropped()
		rejected += d.chats[i].Stats().Rejected
	}
	d.mu.Lock()
	failed := d.failed
	d.mu.Unlock()
	return []string{fmt.Sprintf("relay dchat (n=%d): %d Sends failed, %d deliveries dropped by a full subscription, %d messages rejected (hop limit or invalid); edges without a channel at both ends: %d once built, %d at the end; channel ends stopped during the run: %s.",
		len(d.nodes), failed, dropped, rejected, d.missing, missingEdges(d.nodes, d.edges), d.stops.summary())}
}

func (d *dchatSys) close() {
	d.stops.close()
	stopNodes(d.nodes)
	for _, s := range d.subs {
		s.Close()
	}
	d.wg.Wait()
}
