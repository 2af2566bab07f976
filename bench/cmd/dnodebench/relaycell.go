package main

import (
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	relayIdle  = 2 * time.Second // idle write rate and CPU measured over this, just before the warm-up
	relayQuiet = 3 * time.Second // wait before the idle measurement: gossipsub gossips a message for 3 heartbeats
	relayTail  = time.Second     // a block's window goes on at least this long after its last delivery (lazy announcements, IHAVE)
	// After relayTail the window goes on until the process writes at
	// most quietSlack bytes/s above its idle rate over two quietSample
	// periods in a row: redundant copies of large messages are still
	// queued when the last node got its first copy.
	quietSample = 200 * time.Millisecond
	quietSlack  = 256 << 10
)

// relaySize is the load of one payload size: blocks of msgs messages at
// rate msg/s from random publishers, after a warm-up of one message from
// every node at warmRate msg/s; wait bounds the wait for the deliveries
// of the warm-up and of each block.
type relaySize struct {
	bytes          int
	label          string
	blocks, msgs   int
	rate, warmRate int
	wait           time.Duration
}

// cell is one system's figures at one (n, size): per block, and the
// warm-up's.
type cell struct {
	wire, dups, p50, p99, cpu agg // per block: write bytes and duplicates per delivery, reach-all ms, CPU µs per delivery
	deliv                     []float64
	warm                      blockResult
	idleRate, idleCPU         float64 // idle: write bytes/s, cores
}

// blockResult is one timed run of messages through a system.
type blockResult struct {
	p50, p99   time.Duration // reach-all; a message that missed a node counts as never (an hour)
	deliv      float64       // deliveries / (messages × (n-1))
	deliveries int
	wire       float64 // write bytes over the window minus the idle rate's
	dups       uint64  // duplicates received over the window
	cpu        time.Duration
	took       time.Duration // the window: first publish until writes are back to idle, at least relayTail after the last delivery
}

func (b blockResult) wirePer() float64 { return b.wire / float64(max(b.deliveries, 1)) }
func (b blockResult) dupsPer() float64 { return float64(b.dups) / float64(max(b.deliveries, 1)) }

// wchar is the process's write bytes so far (/proc/self/io): every
// write(2) on every loopback connection of every node in the process,
// i.e. each byte a system put on its links, once, with its framing and
// encryption; 0 when the file cannot be read.
func wchar() uint64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "wchar:"); ok {
			w, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return w
		}
	}
	return 0
}

// runBlock publishes a message of size bytes from each of publishers in
// turn at rate msg/s on a fixed schedule (late sends catch up), waits up
// to wait for every other node to have them all, then relayTail more.
// idleRate (write bytes/s) is subtracted from the window's write bytes.
func runBlock(sys rsys, n int, publishers []int, size, rate int, wait time.Duration, idleRate float64) blockResult {
	tr := newTracker()
	sys.set(tr)
	interval := time.Second / time.Duration(rate)
	d0, w0, c0, t0 := sys.duplicates(), wchar(), cpuTime(), time.Now()
	for k, i := range publishers {
		if d := time.Until(t0.Add(time.Duration(k) * interval)); d > 0 {
			time.Sleep(d)
		}
		ts := time.Now()
		tr.send(sys.publishSize(i, size), ts)
	}
	waitFor(wait, func() bool { return tr.complete(n - 1) })
	time.Sleep(relayTail)
	waitQuiet(idleRate, wait)
	took := time.Since(t0)
	w, d, c := wchar()-w0, sys.duplicates()-d0, cpuTime()-c0
	ds, deliv, got := tr.result(n - 1)
	for len(ds) < len(publishers) {
		ds = append(ds, time.Hour)
	}
	return blockResult{
		p50: pct(ds, 50), p99: pct(ds, 99), deliv: deliv, deliveries: got,
		wire: float64(w) - idleRate*took.Seconds(), dups: d, cpu: c, took: took,
	}
}

// waitQuiet returns once the process wrote at most idleRate + quietSlack
// bytes/s over two quietSample periods in a row, or after limit.
func waitQuiet(idleRate float64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	calm := 0
	for calm < 2 && time.Now().Before(deadline) {
		w0, t0 := wchar(), time.Now()
		time.Sleep(quietSample)
		if float64(wchar()-w0)/time.Since(t0).Seconds() <= idleRate+quietSlack {
			calm++
		} else {
			calm = 0
		}
	}
}

// measureCell measures sys at one size: it waits for the process to
// settle and relayQuiet more, measures the idle write rate and CPU over
// relayIdle, warms up with one message from every node (in a seeded
// random order), then runs rs.blocks blocks, each from seeded random
// publishers (the same for every system).
func measureCell(sys rsys, n int, rs relaySize) cell {
	settle()
	time.Sleep(relayQuiet)
	w0, c0, t0 := wchar(), cpuTime(), time.Now()
	time.Sleep(relayIdle)
	el := time.Since(t0).Seconds()
	var c cell
	c.idleRate = float64(wchar()-w0) / el
	c.idleCPU = float64(cpuTime()-c0) / 1e9 / el
	rng := mrand.New(mrand.NewPCG(uint64(n), uint64(rs.bytes)))
	c.warm = runBlock(sys, n, rng.Perm(n), rs.bytes, rs.warmRate, rs.wait, c.idleRate)
	logf("relay %s n=%d %s warm-up: %d messages, delivery %.4f, wire %.2f× payload, %.2f duplicates per delivery, %s",
		sys.name(), n, rs.label, n, c.warm.deliv, c.warm.wirePer()/float64(rs.bytes), c.warm.dupsPer(), c.warm.took.Round(100*time.Millisecond))
	for blk := range rs.blocks {
		brng := mrand.New(mrand.NewPCG(uint64(n)<<32|uint64(rs.bytes), uint64(blk)))
		pubs := make([]int, rs.msgs)
		for k := range pubs {
			pubs[k] = brng.IntN(n)
		}
		b := runBlock(sys, n, pubs, rs.bytes, rs.rate, rs.wait, c.idleRate)
		c.wire = append(c.wire, b.wirePer())
		c.dups = append(c.dups, b.dupsPer())
		c.p50 = append(c.p50, ms(b.p50))
		c.p99 = append(c.p99, ms(b.p99))
		c.cpu = append(c.cpu, float64(b.cpu)/float64(max(b.deliveries, 1))/1e3)
		c.deliv = append(c.deliv, b.deliv)
		logf("relay %s n=%d %s block %d: reach-all p50/p99 %.1f/%.1f ms, delivery %.4f, wire %.2f× payload, %.2f duplicates and %.0f µs CPU per delivery",
			sys.name(), n, rs.label, blk+1, ms(b.p50), ms(b.p99), b.deliv, b.wirePer()/float64(rs.bytes), b.dupsPer(), c.cpu[blk])
	}
	return c
}
