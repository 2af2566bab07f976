package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/relay"
)

// relaySys is dnode's relay itself (package relay, no application on
// top), on dnode nodes connected by manual channels along the topology.
// Each node's relay has the default configuration but for
// MaxMessageSize, raised to fit the largest payload; one topic, whose
// handler times each delivery by Message.Received. Duplicates are the
// relays' Stats.Duplicates.
type relaySys struct {
	trRef
	nodes  []*dnode.Node
	relays []*relay.Relay
	topics []*relay.Topic

	edges   [][2]int
	missing int
	stops   *stopWatch

	mu       sync.Mutex
	payloads map[int][]byte
	failed   int
}

const relayBenchTopic = "bench"

func buildRelay(b rbuild) rsys {
	s := &relaySys{relays: make([]*relay.Relay, b.n), topics: make([]*relay.Topic, b.n), payloads: map[int][]byte{}, edges: b.edges}
	cfg := relay.Config{MaxMessageSize: max(b.maxSize, relay.DefaultMaxMessageSize)}
	s.set(newTracker())
	s.nodes, s.missing = dnodeTopology(b.n, b.edges, b.ps, func(i int, nd *dnode.Node) {
		r, err := relay.New(nd, cfg, nil)
		must(err)
		t, err := r.Join(relayBenchTopic)
		must(err)
		t.Handle(func(m *relay.Message) {
			if !m.Local {
				s.get().got(m.ID.String(), m.Received)
			}
		})
		s.relays[i], s.topics[i] = r, t
	})
	s.stops = watchStops(s.nodes)
	return s
}

func (s *relaySys) name() string  { return "relay" }
func (s *relaySys) label() string { return "dnode relay, same topology" }

func (s *relaySys) publishSize(i, size int) string {
	s.mu.Lock()
	p, ok := s.payloads[size]
	if !ok {
		p = make([]byte, size)
		s.payloads[size] = p
	}
	s.mu.Unlock()
	id, err := s.topics[i].Publish(context.Background(), p)
	if err != nil {
		s.mu.Lock()
		s.failed++
		k := s.failed
		s.mu.Unlock()
		if k == 1 {
			logf("relay: Publish from node %d failed (counted as never delivered; logged once): %v", i, err)
		}
		return fmt.Sprintf("unsent-%d", k)
	}
	return id.String()
}

func (s *relaySys) duplicates() uint64 {
	var k uint64
	for _, r := range s.relays {
		k += r.Stats().Duplicates
	}
	return k
}

func (s *relaySys) check() error { return checkEdges(s.nodes, s.edges) }

// notes reports failed publishes, the relays' drops by reason and tree
// work, the bytes they sent by frame kind, and the channels that stopped.
func (s *relaySys) notes() []string {
	drops := map[string]uint64{}
	kinds := map[string]uint64{}
	var grafts, prunes, optimized, fetches uint64
	for _, r := range s.relays {
		st := r.Stats()
		for why, k := range st.Dropped {
			if k > 0 {
				drops[why] += k
			}
		}
		for k, b := range st.FrameBytesSent {
			kinds[k] += b
		}
		grafts, prunes, optimized, fetches = grafts+st.Grafts, prunes+st.Prunes, optimized+st.Optimized, fetches+st.Fetches
	}
	join := func(m map[string]uint64) string {
		var out []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if m[k] > 0 {
				out = append(out, fmt.Sprintf("%s %d", k, m[k]))
			}
		}
		if len(out) == 0 {
			return "none"
		}
		return strings.Join(out, ", ")
	}
	s.mu.Lock()
	failed := s.failed
	s.mu.Unlock()
	return []string{fmt.Sprintf("relay (n=%d): %d publishes failed; drops: %s; grafts %d, prunes %d, tree moves %d, fetches %d; bytes sent by frame kind: %s (all nodes, whole run); edges without a channel at both ends: %d once built, %d at the end; channel ends stopped during the run: %s.",
		len(s.nodes), failed, join(drops), grafts, prunes, optimized, fetches, join(kinds), s.missing, missingEdges(s.nodes, s.edges), s.stops.summary())}
}

func (s *relaySys) close() {
	s.stops.close()
	for _, r := range s.relays {
		r.Close()
	}
	stopNodes(s.nodes)
}
