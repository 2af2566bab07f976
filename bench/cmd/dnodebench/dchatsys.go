package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/dchat"
	"github.com/dnode-p2p/dnode/relay"
)

// dchatSys is dnode's chat app, dchat, which rides the relay (topic
// "dchat", the text as the message data), on dnode nodes connected by
// manual channels along the topology (dnodeTopology). Each node's relay
// has the default configuration but for MaxMessageSize, raised (with
// dchat's MaxText) to fit the largest payload. Deliveries are timed by
// dchat.Message.Received (the relay's), read from one subscription per
// node; duplicates are the relays' Stats.Duplicates.
type dchatSys struct {
	trRef
	nodes  []*dnode.Node
	chats  []*dchat.Chat
	relays []*relay.Relay
	subs   []*dchat.Subscription
	wg     sync.WaitGroup

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
	d := &dchatSys{chats: make([]*dchat.Chat, b.n), relays: make([]*relay.Relay, b.n), texts: map[int]string{}, edges: b.edges}
	maxText := max(b.maxSize, dchat.DefaultMaxText)
	rcfg := relay.Config{MaxMessageSize: max(maxText, relay.DefaultMaxMessageSize)}
	d.set(newTracker())
	d.nodes, d.missing = dnodeTopology(b.n, b.edges, b.ps, func(i int, nd *dnode.Node) {
		r, err := relay.New(nd, rcfg, nil)
		must(err)
		c, err := dchat.New(nd, dchat.Config{MaxText: maxText, BufferSize: dchatBuffer, Relay: r})
		must(err)
		d.chats[i], d.relays[i] = c, r
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

func (d *dchatSys) label() string { return "dnode dchat (on the relay), same topology" }

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

// duplicates is the sum of the nodes' relay Stats.Duplicates (copies of
// messages received again).
func (d *dchatSys) duplicates() uint64 {
	var k uint64
	for _, r := range d.relays {
		k += r.Stats().Duplicates
	}
	return k
}

// check fails when an edge lost its channel: the network is rebuilt (its
// notes say why the channels stopped).
func (d *dchatSys) check() error { return checkEdges(d.nodes, d.edges) }

// notes reports what happened during the run: failed Sends, deliveries
// dropped by a full subscription (the tracker missed them), texts
// rejected, the relays' drops by reason and tree work, edges missing once
// built and at the end, channels stopped.
func (d *dchatSys) notes() []string {
	var dropped, rejected uint64
	for i, s := range d.subs {
		dropped += s.Dropped()
		rejected += d.chats[i].Stats().Rejected
	}
	drops := map[string]uint64{}
	var grafts, prunes, optimized, fetches uint64
	for _, r := range d.relays {
		st := r.Stats()
		for why, k := range st.Dropped {
			if k > 0 {
				drops[why] += k
			}
		}
		grafts, prunes, optimized, fetches = grafts+st.Grafts, prunes+st.Prunes, optimized+st.Optimized, fetches+st.Fetches
	}
	var ds []string
	for _, why := range slices.Sorted(maps.Keys(drops)) {
		ds = append(ds, fmt.Sprintf("%s %d", why, drops[why]))
	}
	if len(ds) == 0 {
		ds = []string{"none"}
	}
	d.mu.Lock()
	failed := d.failed
	d.mu.Unlock()
	return []string{fmt.Sprintf("relay dchat (n=%d): %d Sends failed, %d deliveries dropped by a full subscription, %d texts rejected; relay drops: %s; relay grafts %d, prunes %d, tree moves %d, fetches %d (all nodes, whole run); edges without a channel at both ends: %d once built, %d at the end; channel ends stopped during the run: %s.",
		len(d.nodes), failed, dropped, rejected, strings.Join(ds, ", "), grafts, prunes, optimized, fetches, d.missing, missingEdges(d.nodes, d.edges), d.stops.summary())}
}

func (d *dchatSys) close() {
	d.stops.close()
	for _, r := range d.relays {
		r.Close()
	}
	stopNodes(d.nodes)
	for _, s := range d.subs {
		s.Close()
	}
	d.wg.Wait()
}
