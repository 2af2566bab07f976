package main

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
)

// benchIdle measures the listener-side cost of idle channels: one dnode
// node accepts n inbound channels from n plain go-libp2p hosts in a child
// process (childproc.go) that complete dnode's version handshake, so this
// process holds the listener alone; RSS, heap, stack and goroutines after
// runtime.GC + FreeOSMemory, before and after, divided by n. Baseline: a
// bare go-libp2p host accepting n connections (with identify) from another
// child the same way. It is repeated for each of sizes (for the
// memory-vs-channels curve); the rows are for main. The per-node rows are
// one node (one bare host) with no channel and with 16 inbound channels.
func benchIdle(sizes []int, main int) ([]row, []string, []curve) {
	// Warm-up: the first node and host in a process pay one-time costs.
	w := newNode(nodeSettings(tempDir()), nil)
	_ = w.Stop()
	newBareHost().Close()

	type cost struct{ rss, heap, stack, g float64 }
	per := func(a, b memSnap, k int) cost {
		f := float64(k)
		return cost{(float64(b.rss) - float64(a.rss)) / 1024 / f, (float64(b.heap) - float64(a.heap)) / 1024 / f,
			(float64(b.stack) - float64(a.stack)) / 1024 / f, float64(b.goroutines-a.goroutines) / f}
	}
	// dnodeIdle returns the node's own cost with no channel and the cost
	// per channel of k channels.
	dnodeIdle := func(k int) (node, ch cost, after int) {
		m0 := snapMem()
		d := newNode(nodeSettings(tempDir()), nil)
		time.Sleep(300 * time.Millisecond)
		m1 := snapMem()
		c := startDialChild("dnode", d.Addrs()[0], k, 16)
		_, errs, _ := c.dial()
		if !waitFor(10*time.Second, func() bool { return len(d.Channels()) == k-errs }) || errs > 0 {
			logf("idle: dnode holds %d channels of %d (%d failed dials)", len(d.Channels()), k, errs)
		}
		time.Sleep(time.Second)
		m2 := snapMem()
		got := len(d.Channels())
		c.close()
		waitFor(10*time.Second, func() bool { return len(d.Channels()) == 0 })
		_ = d.Stop()
		return per(m0, m1, 1), per(m1, m2, got), got
	}
	bareIdle := func(k int) (node, conn cost, after int) {
		m0 := snapMem()
		h := newBareHost()
		time.Sleep(300 * time.Millisecond)
		m1 := snapMem()
		c := startDialChild("bare", addrOf(h), k, 16)
		_, errs, _ := c.dial()
		if !waitFor(10*time.Second, func() bool { return len(h.Network().Conns()) == k-errs }) || errs > 0 {
			logf("idle: bare host holds %d connections of %d (%d failed dials)", len(h.Network().Conns()), k, errs)
		}
		time.Sleep(time.Second)
		m2 := snapMem()
		got := len(h.Network().Conns())
		c.close()
		closeWait(h)
		h.Close()
		return per(m0, m1, 1), per(m1, m2, got), got
	}

	var rows []row
	var notes []string
	var mainCost [2]cost // dnode, bare at n = main
	dRSS, bRSS := series{Name: "dnode node, RSS per channel"}, series{Name: "bare libp2p host, RSS per connection"}
	dG, bG := series{Name: "dnode node, goroutines per channel"}, series{Name: "bare libp2p host, goroutines per connection"}
	for _, k := range sizes {
		_, bc, bn := bareIdle(k)
		_, dc, dn := dnodeIdle(k)
		logf("idle n=%d: dnode %.1f KiB RSS, %.2f goroutines per channel (%d); bare %.1f KiB, %.2f (%d)", k, dc.rss, dc.g, dn, bc.rss, bc.g, bn)
		x := float64(k)
		dRSS.X, dRSS.Y = append(dRSS.X, x), append(dRSS.Y, dc.rss)
		bRSS.X, bRSS.Y = append(bRSS.X, x), append(bRSS.Y, bc.rss)
		dG.X, dG.Y = append(dG.X, x), append(dG.Y, dc.g)
		bG.X, bG.Y = append(bG.X, x), append(bG.Y, bc.g)
		if k != main {
			continue
		}
		mainCost = [2]cost{dc, bc}
		base := "bare libp2p host, conn + identify (listener side)"
		rows = append(rows,
			row{bench: fmt.Sprintf("idle channel RSS, %d channels, listener side", k), unit: "KiB/channel", dnode: agg{dc.rss}, base: agg{64}, baseName: "issue target 64 KiB", target: "≤ 1.0×", targetRatio: 1, lowerBetter: true},
			row{bench: "idle channel goroutines, listener side", unit: "per channel", dnode: agg{dc.g}, base: agg{6}, baseName: "issue target 6", target: "≤ 1.0×", targetRatio: 1, lowerBetter: true},
			row{bench: "idle channel RSS, listener side", unit: "KiB/channel", dnode: agg{dc.rss}, base: agg{bc.rss}, baseName: base, lowerBetter: true},
			row{bench: "idle channel heap, listener side", unit: "KiB/channel", dnode: agg{dc.heap}, base: agg{bc.heap}, baseName: base, lowerBetter: true},
			row{bench: "idle channel stack, listener side", unit: "KiB/channel", dnode: agg{dc.stack}, base: agg{bc.stack}, baseName: base, lowerBetter: true},
			row{bench: "idle channel goroutines, listener side", unit: "per channel", dnode: agg{dc.g}, base: agg{bc.g}, baseName: base, lowerBetter: true},
		)
	}
	// Per node: the mean over nodeCount idle nodes (hosts) with no channel;
	// with 16 inbound channels, one node and 16 channels at the
	// per-channel cost measured at main (one node's 16 channels are too
	// small a change of the process's RSS to measure alone).
	const nodeCount = 20
	m0 := snapMem()
	var ds []interface{ Stop() error }
	for range nodeCount {
		ds = append(ds, newNode(nodeSettings(tempDir()), nil))
	}
	time.Sleep(500 * time.Millisecond)
	m1 := snapMem()
	for _, d := range ds {
		_ = d.Stop()
	}
	m2 := snapMem()
	var hs []host.Host
	for range nodeCount {
		hs = append(hs, newBareHost())
	}
	time.Sleep(500 * time.Millisecond)
	m3 := snapMem()
	for _, h := range hs {
		h.Close()
	}
	dn0, bn0 := per(m0, m1, nodeCount), per(m2, m3, nodeCount)
	dc, bc := mainCost[0], mainCost[1]
	rows = append(rows,
		row{bench: fmt.Sprintf("idle node (no channels) RSS, mean of %d", nodeCount), unit: "KiB", dnode: agg{dn0.rss}, base: agg{bn0.rss}, baseName: "bare libp2p host", lowerBetter: true},
		row{bench: "idle node (no channels) heap", unit: "KiB", dnode: agg{dn0.heap}, base: agg{bn0.heap}, baseName: "bare libp2p host", lowerBetter: true},
		row{bench: "idle node (no channels) goroutines", unit: "count", dnode: agg{dn0.g}, base: agg{bn0.g}, baseName: "bare libp2p host", lowerBetter: true},
		row{bench: "idle node with 16 inbound channels, RSS", unit: "KiB", dnode: agg{dn0.rss + 16*dc.rss}, base: agg{bn0.rss + 16*bc.rss}, baseName: "bare libp2p host with 16 connections", lowerBetter: true},
		row{bench: "idle node with 16 inbound channels, RSS", unit: "KiB", dnode: agg{dn0.rss + 16*dc.rss}, base: agg{1536}, baseName: "perf.md target 1.5 MiB", target: "≤ 1.0×", targetRatio: 1, lowerBetter: true},
		row{bench: "idle node with 16 inbound channels, goroutines", unit: "count", dnode: agg{dn0.g + 16*dc.g}, base: agg{bn0.g + 16*bc.g}, baseName: "bare libp2p host with 16 connections", lowerBetter: true},
	)
	notes = append(notes, fmt.Sprintf("idle channels: listener side only; the dialers (plain go-libp2p hosts, for dnode completing the version handshake) run in a child process. Sizes %v; the table is for n = %d, the curves for all. The node rows: no channels is the mean over 20 nodes (20 bare hosts) started together; with 16 channels it is that plus 16 × the per-channel cost at n = %d.", sizes, main, main))
	curves := []curve{
		{File: "memory-vs-channels", Title: "Listener RSS per idle channel", XLabel: "inbound channels (connections)", YLabel: "RSS KiB per channel", Series: []series{dRSS, bRSS}},
		{File: "goroutines-vs-channels", Title: "Listener goroutines per idle channel", XLabel: "inbound channels (connections)", YLabel: "goroutines per channel", Series: []series{dG, bG}},
	}
	return rows, notes, curves
}

// closeWait waits until h has no connection left (the peers closed them).
func closeWait(h host.Host) {
	waitFor(10*time.Second, func() bool { return len(h.Network().Conns()) == 0 })
}
