package main

import (
	"fmt"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	ma "github.com/multiformats/go-multiaddr"
)

// rsys is one broadcast system of the relay benchmark, built alone in the
// process on a fixed topology (node i of the benchmark is node i of the
// system, every system gets the same edges). The benchmark calls it from
// one goroutine; receipts come from the system's own goroutines.
type rsys interface {
	// name is short, for logs and notes: "dchat", "flood", ...
	name() string
	// label names it in the baseline column of the rows.
	label() string
	// set makes t the tracker that every delivery from now on goes to:
	// t.got(id, at) once per message and node other than the publisher,
	// at = when the node had the message (not when a subscriber goroutine
	// got to run).
	set(t *tracker)
	// publishSize publishes a fresh message with size bytes of payload
	// from node i and returns the id the deliveries will carry. It must
	// not block for long (queue, do not wait for the network); a message
	// it could not publish gets an id that nothing delivers.
	publishSize(i, size int) string
	// duplicates counts the copies received again (a message a node
	// already had, its own included) over all nodes since it was built.
	duplicates() uint64
	// close tears it down and returns when it is stopped.
	close()
}

// checker is an rsys that can tell a broken network from a working one
// (gossipsub falling back to gossip-only delivery, dnode channels that
// stopped): before each measurement a network whose check fails is
// rebuilt (logged, noted).
type checker interface {
	check() error
}

// noter is an rsys with something to report once it has run (sends that
// failed, edges that never got a channel): notes under the table.
type noter interface {
	notes() []string
}

// rbuild is what a system is built for.
type rbuild struct {
	n       int
	edges   [][2]int // undirected, e[0] dials e[1]
	maxSize int      // the largest payload publishSize will be asked for
	ps      *proxies // not nil: every edge through a delaying proxy from ps
}

// rsysKind is one buildable system of the relay benchmark.
type rsysKind struct {
	name  string // as rsys.name()
	build func(rbuild) rsys
}

// relayKinds are the systems of the relay benchmark, in the order they
// run (the one in the dnode column, -relay-dnode, runs first). A new
// system is one file with its rsys and one entry here.
var relayKinds = []rsysKind{
	{"relay", buildRelay},
	{"dchat", buildDchat},
	{"flood", buildFlood},
	{"gossipsub", func(b rbuild) rsys { return buildGossip(b, false) }},
	{"gossipsub-signed", func(b rbuild) rsys { return buildGossip(b, true) }},
}

// relayDnodeDefault is the system in the dnode column of the relay
// benchmark's rows unless -relay-dnode says otherwise.
const relayDnodeDefault = "relay"

func kindNamed(name string) (rsysKind, bool) {
	for _, k := range relayKinds {
		if k.name == name {
			return k, true
		}
	}
	return rsysKind{}, false
}

// sized is an rsys as a bsys that publishes size bytes, for the
// throughput sweep's code.
type sized struct {
	rsys
	size int
}

func (s sized) publish(i int) string { return s.publishSize(i, s.size) }

// buildFlood is the raw-TCP flood (broadcast.go) on b's topology.
func buildFlood(b rbuild) rsys {
	var via func(a, c int, addr string) string
	if b.ps != nil {
		via = func(_, _ int, addr string) string { return b.ps.to(addr) }
	}
	return newFloodVia(b.n, b.edges, via)
}

// buildGossip is gossipsub (gossip.go, healthy: rebuilt while its warm-up
// shows gossip-only delivery) on b's topology, with a maximum message size
// that admits b.maxSize.
func buildGossip(b rbuild, signed bool) rsys {
	var via func(a, c int, h host.Host) []ma.Multiaddr
	if b.ps != nil {
		via = func(_, _ int, h host.Host) []ma.Multiaddr { return proxiedMultiaddr(b.ps, h) }
	}
	var extra []pubsub.Option
	if need := b.maxSize + 64<<10; need > pubsub.DefaultMaxMessageSize {
		extra = append(extra, pubsub.WithMaxMessageSize(need))
	}
	return healthyGossipVia(b.n, b.edges, signed, via, extra...)
}

// check fails when 10 warm-up messages of 1 KiB show gossip-only delivery
// (reach-all p50 ≥ gossipOnly ms), as healthyGossip's check.
func (g *gossip) check() error {
	if p50 := gossipWarm(g, len(g.hosts)); p50 >= gossipOnly*time.Millisecond {
		least, mean := g.meshStats()
		return fmt.Errorf("warm-up reach-all p50 %s (mesh sizes: smallest %d, mean %.1f)", p50.Round(time.Millisecond), least, mean)
	}
	return nil
}
