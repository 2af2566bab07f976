package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/dchat"
	"github.com/dnode-p2p/dnode/seed"
	"github.com/dnode-p2p/dnode/settings"
)

// tracker records when each message was sent and when each node got it.
type tracker struct {
	mu   sync.Mutex
	sent map[string]time.Time
	recv map[string]*receipt
}

type receipt struct {
	count int
	last  time.Time
}

func newTracker() *tracker {
	return &tracker{sent: map[string]time.Time{}, recv: map[string]*receipt{}}
}

func (t *tracker) got(id string, at time.Time) {
	t.mu.Lock()
	r := t.recv[id]
	if r == nil {
		r = &receipt{}
		t.recv[id] = r
	}
	r.count++
	if at.After(r.last) {
		r.last = at
	}
	t.mu.Unlock()
}

func (t *tracker) send(id string, at time.Time) {
	t.mu.Lock()
	t.sent[id] = at
	t.mu.Unlock()
}

// result returns reach-all times of the messages that reached all want
// receivers, and the delivered fraction.
func (t *tracker) result(want int) ([]time.Duration, float64, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ds []time.Duration
	total := 0
	for id, t0 := range t.sent {
		r := t.recv[id]
		if r == nil {
			continue
		}
		total += r.count
		if r.count >= want {
			ds = append(ds, r.last.Sub(t0))
		}
	}
	return ds, float64(total) / float64(want*len(t.sent)), total
}

func (t *tracker) complete(want int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id := range t.sent {
		if r := t.recv[id]; r == nil || r.count < want {
			return false
		}
	}
	return true
}

// netSettings are devnet's node settings (internal/devnet): short
// discovery and refinery timers, out outbound slots.
func netSettings(dir string, seeds []ma.Multiaddr, out int) settings.Settings {
	s := nodeSettings(dir)
	s.Net.Seeds = seeds
	s.Net.OutboundConnections = out
	s.Net.InboundConnections = 32
	s.Net.OutboundPeerDiscoveryAttemptTime = 500 * time.Millisecond
	s.Net.GreylistRefineryInterval = time.Second
	s.Net.HostlistSaveInterval = time.Minute
	return s
}

// benchBroadcast: n dchat nodes bootstrapping from one seed with out
// outbound slots; blocks of messages of 1 KiB at rate/s from random nodes,
// reach-all time per message, alternating with a raw-TCP flood over the
// very same topology (the edges of dnode's channels).
func benchBroadcast(n, out, msgs, rate int) ([]row, []string) {
	ctx := context.Background()
	ss := netSettings(tempDir(), nil, 0)
	ss.Seed.WhitelistRefineryInterval = 5 * time.Second
	sd, err := seed.New(ss, slog.DiscardHandler, dnode.WithPerIPLimit(100000))
	must(err)
	must(sd.Start(ctx))
	defer sd.Stop()
	h := sd.Host()
	seedAddrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	must(err)

	t0 := time.Now()
	nodes := make([]*dnode.Node, n)
	chats := make([]*dchat.Chat, n)
	index := map[peer.ID]int{}
	for i := range n {
		nodes[i] = newNode(netSettings(tempDir(), seedAddrs[:1], out), func(nd *dnode.Node) {
			c, err := dchat.New(nd, dchat.Config{})
			must(err)
			chats[i] = c
		})
		index[nodes[i].ID()] = i
	}
	defer func() {
		var wg sync.WaitGroup
		for _, nd := range nodes {
			wg.Go(func() { _ = nd.Stop() })
		}
		wg.Wait()
	}()
	filled := func() int {
		k := 0
		for _, nd := range nodes {
			f := 0
			for _, id := range nd.OutboundSlots() {
				if id != 0 {
					f++
				}
			}
			if f >= out {
				k++
			}
		}
		return k
	}
	full := waitFor(60*time.Second, func() bool { return filled() == n })
	formation := time.Since(t0)
	logf("broadcast: %d/%d nodes with all %d slots filled after %s", filled(), n, out, formation.Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)

	// Topology: dnode's channels between the nodes (not the seed).
	type edge struct{ a, b int }
	edgeSet := map[edge]bool{}
	for i, nd := range nodes {
		for _, ch := range nd.Channels() {
			if j, ok := index[ch.Peer()]; ok {
				edgeSet[edge{min(i, j), max(i, j)}] = true
			}
		}
	}
	var edges [][2]int
	for e := range edgeSet {
		edges = append(edges, [2]int{e.a, e.b})
	}
	fl := newFlood(n, edges)
	defer fl.close()
	gs := newGossip(n, edges)
	defer gs.close()

	var dref trRef
	dref.set(newTracker())
	for _, c := range chats {
		sub := c.Subscribe(4096)
		defer sub.Close()
		go func() {
			for m := range sub.C() {
				dref.get().got(m.ID, time.Now())
			}
		}()
	}

	// Background: the three networks idle (dnode's refinery, discovery and
	// ping timers, gossipsub heartbeats).
	idle0, idleT := cpuTime(), time.Now()
	time.Sleep(2 * time.Second)
	idleCPU := float64(cpuTime()-idle0) / float64(time.Since(idleT))

	const blocks = 4
	per := msgs / blocks
	interval := time.Second / time.Duration(rate)
	text := strings.Repeat("x", 1024)
	drng := mrand.New(mrand.NewPCG(1, 2))
	frng := mrand.New(mrand.NewPCG(1, 2))
	grng := mrand.New(mrand.NewPCG(1, 2))
	var gP50, gP99, gCPU agg
	var gDeliv []float64
	var dP50, dP99, dCPU, fP50, fP99, fCPU agg
	var dDeliv, fDeliv []float64
	for blk := range blocks {
		// dnode
		tr := newTracker()
		dref.set(tr)
		cpu0 := cpuTime()
		for range per {
			i := drng.IntN(n)
			ts := time.Now()
			m, err := chats[i].Send(text)
			must(err)
			tr.send(m.ID, ts)
			time.Sleep(interval)
		}
		waitFor(5*time.Second, func() bool { return tr.complete(n - 1) })
		ds, deliv, total := tr.result(n - 1)
		dCPU = append(dCPU, float64(cpuTime()-cpu0)/float64(max(total, 1))/1e3)
		dP50, dP99 = append(dP50, ms(pct(ds, 50))), append(dP99, ms(pct(ds, 99)))
		dDeliv = append(dDeliv, deliv)

		// raw-TCP flood
		tr = newTracker()
		fl.set(tr)
		cpu0 = cpuTime()
		for range per {
			i := frng.IntN(n)
			ts := time.Now()
			id := fl.publish(i)
			tr.send(id, ts)
			time.Sleep(interval)
		}
		waitFor(5*time.Second, func() bool { return tr.complete(n - 1) })
		ds, deliv, total = tr.result(n - 1)
		fCPU = append(fCPU, float64(cpuTime()-cpu0)/float64(max(total, 1))/1e3)
		fP50, fP99 = append(fP50, ms(pct(ds, 50))), append(fP99, ms(pct(ds, 99)))
		fDeliv = append(fDeliv, deliv)
		// gossipsub
		tp, tc := gs.peers()
		logf("gossipsub: mean topic peers %.1f, connections %.1f per host", tp, tc)
		tr = newTracker()
		gs.set(tr)
		cpu0 = cpuTime()
		for range per {
			i := grng.IntN(n)
			ts := time.Now()
			id := gs.publish(i)
			tr.send(id, ts)
			time.Sleep(interval)
		}
		waitFor(5*time.Second, func() bool { return tr.complete(n - 1) })
		ds, deliv, total = tr.result(n - 1)
		gCPU = append(gCPU, float64(cpuTime()-cpu0)/float64(max(total, 1))/1e3)
		gP50, gP99 = append(gP50, ms(pct(ds, 50))), append(gP99, ms(pct(ds, 99)))
		gDeliv = append(gDeliv, deliv)
		logf("broadcast block %d: gossipsub p50 %.2f ms p99 %.2f ms (delivery %.4f)", blk+1, gP50[blk], gP99[blk], gDeliv[blk])
		logf("broadcast block %d: dnode reach-all p50 %.2f ms p99 %.2f ms (delivery %.4f); flood p50 %.2f ms p99 %.2f ms (delivery %.4f)",
			blk+1, dP50[blk], dP99[blk], dDeliv[blk], fP50[blk], fP99[blk], fDeliv[blk])
	}
	name := fmt.Sprintf("dchat reach-all p50 (n=%d, out=%d, 1 KiB, %d/s)", n, out, rate)
	rows := []row{
		{bench: name, unit: "ms", dnode: dP50, base: fP50, baseName: "raw-TCP flood, same topology", target: "≤ 2.0×", targetRatio: 2.0, lowerBetter: true},
		{bench: name, unit: "ms", dnode: dP50, base: gP50, baseName: "gossipsub v0.17.0 unsigned, same topology", target: "≤ 0.6×", targetRatio: 0.6, lowerBetter: true},
		{bench: "dchat reach-all p99", unit: "ms", dnode: dP99, base: fP99, baseName: "raw-TCP flood, same topology", lowerBetter: true},
		{bench: "dchat reach-all p99", unit: "ms", dnode: dP99, base: gP99, baseName: "gossipsub v0.17.0 unsigned, same topology", lowerBetter: true},
		{bench: "dchat CPU per delivery (whole process, at 20/s)", unit: "µs", dnode: dCPU, base: fCPU, baseName: "raw-TCP flood, same topology", lowerBetter: true},
		{bench: "dchat CPU per delivery (whole process, at 20/s)", unit: "µs", dnode: dCPU, base: gCPU, baseName: "gossipsub v0.17.0 unsigned, same topology", lowerBetter: true},
	}
	notes := []string{
		fmt.Sprintf("dchat broadcast: with all three networks idle the process used %.1f %% of one core (dnode's 1 s refinery probes new connections; gossipsub heartbeats); spread over a block's deliveries that is about %.0f µs per delivery of each CPU-per-delivery figure.",
			idleCPU*100, idleCPU*float64(time.Duration(per)*interval)/float64(per*(n-1))/1e3),
		fmt.Sprintf("dchat broadcast: %d nodes + 1 seed, %d outbound slots; %d/%d nodes had every slot filled %s after the first node started (all full: %v); topology %d edges (mean degree %.1f); %d blocks of %d messages per system, alternating dnode, flood and gossipsub; delivery fraction dnode %s, flood %s, gossipsub %s.",
			n, out, filled(), n, formation.Round(time.Millisecond), full, len(edges), 2*float64(len(edges))/float64(n), blocks, per, fmtFracs(dDeliv), fmtFracs(fDeliv), fmtFracs(gDeliv)),
	}
	return rows, notes
}

// trRef is the tracker currently recording.
type trRef struct {
	mu sync.Mutex
	t  *tracker
}

func (r *trRef) set(t *tracker) { r.mu.Lock(); r.t = t; r.mu.Unlock() }

func (r *trRef) get() *tracker { r.mu.Lock(); defer r.mu.Unlock(); return r.t }

func fmtFracs(fs []float64) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%.4f", f))
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// flood is the raw-TCP baseline: each edge is one TCP connection, frames
// are 4-byte length + 16-byte id + payload, every node relays a message
// once to all its other neighbours (seen set), writes are queued per
// connection and flushed when the queue is empty.
type flood struct {
	nodes []*fnode
	trRef
}

type fnode struct {
	f     *flood
	mu    sync.Mutex
	seen  map[[16]byte]bool
	peers []*fconn
	ln    net.Listener
}

type fconn struct {
	c net.Conn
	q chan []byte
}

func newFlood(n int, edges [][2]int) *flood {
	f := &flood{}
	var wg sync.WaitGroup
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		must(err)
		fn := &fnode{f: f, seen: map[[16]byte]bool{}, ln: ln}
		f.nodes = append(f.nodes, fn)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fn.add(c)
				wg.Done()
			}
		}()
	}
	for _, e := range edges {
		wg.Add(1)
		c, err := net.Dial("tcp", f.nodes[e[1]].ln.Addr().String())
		must(err)
		f.nodes[e[0]].add(c)
	}
	wg.Wait()
	return f
}

func (f *flood) close() {
	for _, fn := range f.nodes {
		fn.ln.Close()
		fn.mu.Lock()
		for _, p := range fn.peers {
			p.c.Close()
			close(p.q)
		}
		fn.peers = nil
		fn.mu.Unlock()
	}
}

func (fn *fnode) add(c net.Conn) {
	p := &fconn{c: c, q: make(chan []byte, 4096)}
	fn.mu.Lock()
	fn.peers = append(fn.peers, p)
	fn.mu.Unlock()
	go func() { // writer: flush when the queue is empty
		w := bufio.NewWriterSize(c, 64<<10)
		for fr := range p.q {
			_, _ = w.Write(fr)
			for len(p.q) > 0 {
				fr, ok := <-p.q
				if !ok {
					return
				}
				_, _ = w.Write(fr)
			}
			if w.Flush() != nil {
				return
			}
		}
	}()
	go func() { // reader
		r := bufio.NewReaderSize(c, 64<<10)
		var hdr [4]byte
		for {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return
			}
			fr := make([]byte, 4+binary.BigEndian.Uint32(hdr[:]))
			copy(fr, hdr[:])
			if _, err := io.ReadFull(r, fr[4:]); err != nil {
				return
			}
			fn.handle(fr, p)
		}
	}()
}

func (fn *fnode) handle(fr []byte, from *fconn) {
	var id [16]byte
	copy(id[:], fr[4:20])
	fn.mu.Lock()
	if fn.seen[id] {
		fn.mu.Unlock()
		return
	}
	fn.seen[id] = true
	peers := fn.peers
	fn.mu.Unlock()
	if from != nil {
		fn.f.get().got(hex.EncodeToString(id[:]), time.Now())
	}
	for _, p := range peers {
		if p != from {
			p.q <- fr
		}
	}
}

// publish sends a new 1 KiB message from node i and returns its id.
func (f *flood) publish(i int) string {
	fr := make([]byte, 4+16+1024)
	binary.BigEndian.PutUint32(fr, 16+1024)
	_, _ = rand.Read(fr[4:20])
	f.nodes[i].handle(fr, nil)
	return hex.EncodeToString(fr[4:20])
}
