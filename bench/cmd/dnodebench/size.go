package main

import (
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/dchat"
)

// Size curves: reach-all p50 against network size, as is (on one machine
// that is the CPU work of one broadcast) and with a one-way delay on every
// link (hop count shows).
var (
	sizeNs = []int{10, 25, 50, 100, 200}
	// n = 200 is left out of the delay curve: with a proxy per edge (1565
	// edges, 3130 more loopback connections) the process saturates and the
	// point measures CPU, not hops.
	sizeDelayNs = []int{10, 25, 50, 100}
)

const (
	sizeOut   = 8                     // dials per node in the random topology
	sizeMsgs  = 30                    // messages per system and size
	sizeRate  = 20                    // msg/s
	delayRate = 10                    // msg/s on the delay curve: the proxies' work stays below saturation
	linkDelay = 25 * time.Millisecond // one-way, per link, for the delay curve
)

// randomTopology has every node dial out distinct random others (fewer
// when n is small); edges are undirected and unique, e[0] dials e[1].
func randomTopology(n, out int, seed uint64) [][2]int {
	rng := mrand.New(mrand.NewPCG(seed, 7))
	have := map[[2]int]bool{}
	var edges [][2]int
	for a := range n {
		k := min(out, n-1)
		for _, b := range rng.Perm(n) {
			if k == 0 {
				break
			}
			if b == a {
				continue
			}
			k--
			key := [2]int{min(a, b), max(a, b)}
			if have[key] {
				continue
			}
			have[key] = true
			edges = append(edges, [2]int{a, b})
		}
	}
	return edges
}

// delayProxy forwards TCP connections to target, releasing every chunk
// read in either direction delay after it was read: a timestamped queue
// per direction, so chunks in flight overlap as on a real link.
type delayProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newDelayProxy(target string, delay time.Duration) *delayProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	p := &delayProxy{ln: ln, target: target, delay: delay}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, d)
			p.mu.Unlock()
			p.pipe(c, d)
			p.pipe(d, c)
		}
	})
	return p
}

type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst through the delay queue; when src ends, dst's
// write side is closed after the queued chunks.
func (p *delayProxy) pipe(src, dst net.Conn) {
	q := make(chan chunk, 4096)
	p.wg.Go(func() {
		defer close(q)
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{append([]byte(nil), buf[:n]...), time.Now()}
			}
			if err != nil {
				return
			}
		}
	})
	p.wg.Go(func() {
		// Each write carries every chunk that is due, so a busy link
		// costs one write per release, not one per chunk.
		var pending *chunk
		var out net.Buffers
		for {
			if pending == nil {
				ch, ok := <-q
				if !ok {
					break
				}
				pending = &ch
			}
			if d := time.Until(pending.at.Add(p.delay)); d > 0 {
				time.Sleep(d)
			}
			out = append(out[:0], pending.b)
			pending = nil
			closed := false
		drain:
			for {
				select {
				case ch, ok := <-q:
					switch {
					case !ok:
						closed = true
						break drain
					case time.Until(ch.at.Add(p.delay)) > 0:
						pending = &ch
						break drain
					default:
						out = append(out, ch.b)
					}
				default:
					break drain
				}
			}
			if _, err := out.WriteTo(dst); err != nil || closed {
				break
			}
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		for range q { // let the reader finish
		}
	})
}

func (p *delayProxy) addr() string { return p.ln.Addr().String() }

func (p *delayProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// proxies makes one delaying proxy per edge on demand.
type proxies struct {
	delay time.Duration
	mu    sync.Mutex
	all   []*delayProxy
}

func (ps *proxies) to(target string) string {
	p := newDelayProxy(target, ps.delay)
	ps.mu.Lock()
	ps.all = append(ps.all, p)
	ps.mu.Unlock()
	return p.addr()
}

func (ps *proxies) close() {
	var wg sync.WaitGroup
	for _, p := range ps.all {
		wg.Go(p.close)
	}
	wg.Wait()
}

// tcpAddr returns the host:port of a /ip4/.../tcp/... multiaddr.
func tcpAddr(a ma.Multiaddr) string {
	ip, err := a.ValueForProtocol(ma.P_IP4)
	must(err)
	port, err := a.ValueForProtocol(ma.P_TCP)
	must(err)
	return ip + ":" + port
}

func proxiedMultiaddr(ps *proxies, h host.Host) []ma.Multiaddr {
	return []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/" + portOf(ps.to(tcpAddr(h.Addrs()[0]))))}
}

func portOf(hostport string) string {
	_, port, err := net.SplitHostPort(hostport)
	must(err)
	return port
}

// dnodeNet is n dchat nodes connected by manual channels along edges,
// without a seed.
type dnodeNet struct {
	dnodeSys
	nodes []*dnode.Node
	subs  []*dchat.Subscription
}

func newDnodeNet(n int, edges [][2]int, ps *proxies) *dnodeNet {
	d := &dnodeNet{}
	d.chats = make([]*dchat.Chat, n)
	d.nodes, _ = dnodeTopology(n, edges, ps, func(i int, nd *dnode.Node) {
		c, err := dchat.New(nd, dchat.Config{})
		must(err)
		d.chats[i] = c
	})
	d.set(newTracker())
	for _, c := range d.chats {
		sub := c.Subscribe(4096)
		d.subs = append(d.subs, sub)
		go func() {
			for m := range sub.C() {
				d.get().got(m.ID, m.Received)
			}
		}()
	}
	return d
}

func (d *dnodeNet) close() {
	for _, s := range d.subs {
		s.Close()
	}
	stopNodes(d.nodes)
}

// sizeSystems are the systems of the size curves, in plotting order.
var sizeSystems = []string{"dnode", "flood", "p2pflood", "gossipsub"}

// reachAt builds one system on n nodes (through delaying proxies when
// delay > 0), sends sizeMsgs messages at rate/s from random nodes and
// returns the reach-all p50 and p99 and the delivered fraction.
func reachAt(sys string, n int, edges [][2]int, delay time.Duration, rate int) (p50, p99 time.Duration, deliv float64) {
	var ps *proxies
	if delay > 0 {
		ps = &proxies{delay: delay}
		defer ps.close()
	}
	var s bsys
	var closer func()
	switch sys {
	case "dnode":
		d := newDnodeNet(n, edges, ps)
		s, closer = d, d.close
	case "flood":
		var via func(a, b int, addr string) string
		if ps != nil {
			via = func(_, _ int, addr string) string { return ps.to(addr) }
		}
		f := newFloodVia(n, edges, via)
		s, closer = f, f.close
	case "p2pflood":
		var via func(a, b int, h host.Host) []ma.Multiaddr
		if ps != nil {
			via = func(_, _ int, h host.Host) []ma.Multiaddr { return proxiedMultiaddr(ps, h) }
		}
		p := newP2PFloodVia(n, edges, via)
		s, closer = p, p.close
	case "gossipsub":
		var via func(a, b int, h host.Host) []ma.Multiaddr
		if ps != nil {
			via = func(_, _ int, h host.Host) []ma.Multiaddr { return proxiedMultiaddr(ps, h) }
		}
		g := newGossipVia(n, edges, false, via)
		s, closer = g, g.close
	}
	defer closer()
	settle()
	warmup(s, n)
	tr := newTracker()
	s.set(tr)
	if f := os.Getenv("DNB_TRACE"); f != "" { // experiments: an execution trace of the sends
		tf, err := os.Create(f + "." + sys)
		must(err)
		must(trace.Start(tf))
		defer func() { trace.Stop(); tf.Close() }()
	}
	if f := os.Getenv("DNB_CPUPROF"); f != "" { // experiments: a CPU profile of the sends
		pf, err := os.Create(f + "." + sys)
		must(err)
		must(pprof.StartCPUProfile(pf))
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	cpu0 := cpuTime()
	defer func() {
		logf("%s n=%d: CPU %.0f µs per delivery", sys, n, float64(cpuTime()-cpu0)/1e3/float64(sizeMsgs*(n-1)))
	}()
	rng := mrand.New(mrand.NewPCG(uint64(n), 9))
	interval := time.Second / time.Duration(rate)
	for range sizeMsgs {
		ts := time.Now()
		tr.send(s.publish(rng.IntN(n)), ts)
		time.Sleep(interval)
	}
	waitFor(10*time.Second, func() bool { return tr.complete(n - 1) })
	ds, deliv, _ := tr.result(n - 1)
	return pct(ds, 50), pct(ds, 99), deliv
}

// benchSize measures the two size curves.
func benchSize() ([]row, []string, []curve) {
	if v := os.Getenv("DNB_SIZE_NS"); v != "" { // experiments: a subset
		sizeNs, sizeDelayNs = nil, nil
		for _, f := range strings.Split(v, ",") {
			k, err := strconv.Atoi(f)
			must(err)
			sizeNs = append(sizeNs, k)
			sizeDelayNs = append(sizeDelayNs, k)
		}
	}
	if v := os.Getenv("DNB_SIZE_SYS"); v != "" {
		sizeSystems = strings.Split(v, ",")
	}
	if os.Getenv("DNB_SIZE_NODELAY") != "" {
		sizeDelayNs = nil
	}
	var notes []string
	var curves []curve
	for _, v := range []struct {
		file, title string
		ns          []int
		delay       time.Duration
		rate        int
	}{
		{"reach-vs-size", fmt.Sprintf("Broadcast reach-all p50 against network size (1 KiB, %d/s, out=%d)", sizeRate, sizeOut), sizeNs, 0, sizeRate},
		{"reach-vs-size-delay", fmt.Sprintf("Broadcast reach-all p50 against network size, %s one-way per link (1 KiB, %d/s)", linkDelay, delayRate), sizeDelayNs, linkDelay, delayRate},
	} {
		c := curve{File: v.file, Title: v.title, XLabel: "nodes", YLabel: "reach-all p50 (ms)", LogX: true, LogY: v.delay == 0}
		var parts []string
		for _, sys := range sizeSystems {
			s := series{Name: sys}
			var pts []string
			for _, n := range v.ns {
				edges := randomTopology(n, sizeOut, 1)
				t0 := time.Now()
				p50, p99, deliv := reachAt(sys, n, edges, v.delay, v.rate)
				logf("%s %s n=%d (%d edges): reach-all p50 %.1f ms p99 %.1f ms, delivery %.4f (%s)", v.file, sys, n, len(edges), ms(p50), ms(p99), deliv, time.Since(t0).Round(100*time.Millisecond))
				s.X = append(s.X, float64(n))
				s.Y = append(s.Y, ms(p50))
				pts = append(pts, fmt.Sprintf("%d: %.1f/%.1f", n, ms(p50), ms(p99)))
				if deliv < 1 {
					pts[len(pts)-1] += fmt.Sprintf(" (delivery %.4f)", deliv)
				}
			}
			c.Series = append(c.Series, s)
			parts = append(parts, sys+" "+strings.Join(pts, ", "))
		}
		curves = append(curves, c)
		notes = append(notes, fmt.Sprintf("%s (reach-all p50/p99 ms by n; fixed random topology, every node dials %d others, %d messages at %d/s per point): %s.",
			v.file, sizeOut, sizeMsgs, v.rate, strings.Join(parts, "; ")))
	}
	notes = append(notes, fmt.Sprintf("size curves: the delay is injected by one TCP proxy per edge on loopback that releases each chunk %s after reading it (both directions), used by every system; dnode's nodes connect with manual channels along the same edges (no seed). The delay curve stops at n = 100: at n = 200 the proxies (3130 more loopback connections) saturate the process and every system's point measures CPU, not hops (in a smoke run: flood 427, p2pflood 831, dnode 1148, gossipsub 1372 ms).", linkDelay))
	return nil, notes, curves
}

// settle waits (at most 10 s) until the process is nearly idle, so that a
// network's setup work (handshakes, identify, mesh forming) is over before
// its latency is measured.
func settle() {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c0, t0 := cpuTime(), time.Now()
		time.Sleep(250 * time.Millisecond)
		if float64(cpuTime()-c0)/float64(time.Since(t0)) < 0.25 {
			return
		}
	}
}
