package main

import (
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The relay benchmark (issue 10, item 9): every system alone in the
// process in turn on the same fixed random topology, measured at several
// sizes, then torn down. See docs/benchmarks.md.

var (
	relayQuick   bool
	relayDnode   string
	relaySystems string
	relayNets    string
	relayParts   string
)

func init() {
	flag.BoolVar(&relayQuick, "relay-quick", false, "relay benchmark: a smoke run (n = 20, few messages, short sweeps) instead of the full matrix")
	flag.StringVar(&relayDnode, "relay-dnode", relayDnodeDefault, "relay benchmark: the system in the dnode column of its rows")
	flag.StringVar(&relaySystems, "relay-systems", "", "relay benchmark: comma-separated systems to run (default all; the -relay-dnode one always runs)")
	flag.StringVar(&relayNets, "relay-nets", "", "relay benchmark: comma-separated network sizes of the plan to run (default all), e.g. 40")
	flag.StringVar(&relayParts, "relay-parts", "", "relay benchmark: comma-separated parts to run (default all): 1K, 64K, 1M (cells), sweep, big (1 MiB rates), delay, catchup")
}

// wantPart reports whether -relay-parts selects part.
func wantPart(part string) bool {
	return relayParts == "" || slices.Contains(strings.Split(relayParts, ","), part)
}

// wantNet reports whether -relay-nets selects n.
func wantNet(n int) bool {
	return relayNets == "" || slices.Contains(strings.Split(relayNets, ","), fmt.Sprint(n))
}

// sizePart names a cell size as -relay-parts does.
func sizePart(s relaySize) string {
	switch s.bytes {
	case 1 << 10:
		return "1K"
	case 64 << 10:
		return "64K"
	case 1 << 20:
		return "1M"
	}
	return fmt.Sprint(s.bytes)
}

// selected returns plan with only the nets and parts the flags select.
func (p relayPlan) selected() relayPlan {
	var nets []relayNet
	for _, n := range p.nets {
		if !wantNet(n.n) {
			continue
		}
		var sizes []relaySize
		for _, s := range n.sizes {
			if wantPart(sizePart(s)) {
				sizes = append(sizes, s)
			}
		}
		n.sizes = sizes
		n.sweep = n.sweep && wantPart("sweep")
		n.big = n.big && wantPart("big")
		if len(n.sizes) == 0 && !n.sweep && !n.big {
			continue // nothing of it selected: not even built
		}
		nets = append(nets, n)
	}
	p.nets = nets
	return p
}

// relayNet is one network size of the plan: the sizes measured on it,
// and whether the 1 MiB rate test and the 1 KiB throughput sweep run on
// it too. targetsAt is the n whose targets apply (n itself, except in the
// smoke run).
type relayNet struct {
	n         int
	sizes     []relaySize
	big       bool // 1 MiB at bigRates
	sweep     bool // 1 KiB max sustained rate
	targetsAt int
}

// relayPlan is the whole matrix.
type relayPlan struct {
	nets       []relayNet
	sweepRates []int
	bigRates   []int
	bigSpec    loadSpec
	delayN     int
	delaySize  relaySize
}

var (
	size1K  = relaySize{bytes: 1 << 10, label: "1 KiB", blocks: 3, msgs: 40, rate: 20, warmRate: 50, wait: 10 * time.Second}
	size64K = relaySize{bytes: 64 << 10, label: "64 KiB", blocks: 2, msgs: 20, rate: 10, warmRate: 20, wait: 15 * time.Second}
	// The 1 MiB warm-up runs at the blocks' rate: faster, the flood
	// dchat's channels died (write deadline, no pong) before anything
	// was measured.
	size1M = relaySize{bytes: 1 << 20, label: "1 MiB", blocks: 2, msgs: 5, rate: 1, warmRate: 1, wait: 30 * time.Second}
	// 1 MiB rates: each step publishes for 5 s (at least 5 messages),
	// sustained with delivery ≥ 99.9 % and reach-all p99 ≤ 1 s.
	bigSpec = loadSpec{step: 5 * time.Second, drain: 5 * time.Second, maxP99: time.Second, minDeliv: sweepMinDeliv, minMsgs: 5}
)

func fullRelayPlan() relayPlan {
	return relayPlan{
		nets: []relayNet{
			{n: 40, sizes: []relaySize{size1K, size64K, size1M}, big: true, sweep: true, targetsAt: 40},
			{n: 100, sizes: []relaySize{size1K}, targetsAt: 100},
			{n: 200, sizes: []relaySize{size1K}, targetsAt: 200},
		},
		sweepRates: sweepRates,
		bigRates:   []int{1, 2, 5},
		bigSpec:    bigSpec,
		delayN:     100,
		delaySize:  relaySize{bytes: 1 << 10, label: "1 KiB", blocks: 3, msgs: 10, rate: delayRate, warmRate: 20, wait: 10 * time.Second},
	}
}

// quickRelayPlan is the smoke run: every part of the benchmark once, on
// n = 20 with the targets of n = 40, in about two minutes.
func quickRelayPlan() relayPlan {
	few := func(s relaySize, msgs, warmRate int) relaySize {
		s.blocks, s.msgs, s.warmRate = 1, msgs, warmRate
		return s
	}
	quickBig := bigSpec
	quickBig.step, quickBig.minMsgs = 2*time.Second, 2
	quickSweep := []int{20, 200, 1000}
	return relayPlan{
		nets:       []relayNet{{n: 20, sizes: []relaySize{few(size1K, 10, 50), few(size64K, 5, 20), few(size1M, 2, 2)}, big: true, sweep: true, targetsAt: 40}},
		sweepRates: quickSweep,
		bigRates:   []int{1, 2},
		bigSpec:    quickBig,
		delayN:     20,
		delaySize:  relaySize{bytes: 1 << 10, label: "1 KiB", blocks: 1, msgs: 5, rate: delayRate, warmRate: 20, wait: 10 * time.Second},
	}
}

// relayKindsToRun returns the systems to run, the dnode one first.
func relayKindsToRun() ([]rsysKind, error) {
	dn, ok := kindNamed(relayDnode)
	if !ok {
		return nil, fmt.Errorf("-relay-dnode %q: no such system (have %s)", relayDnode, kindNames())
	}
	kinds := []rsysKind{dn}
	for _, k := range relayKinds {
		if k.name == dn.name {
			continue
		}
		if relaySystems == "" || slices.Contains(strings.Split(relaySystems, ","), k.name) {
			kinds = append(kinds, k)
		}
	}
	for _, s := range strings.Split(relaySystems, ",") {
		if _, ok := kindNamed(s); s != "" && !ok {
			return nil, fmt.Errorf("-relay-systems: no system %q (have %s)", s, kindNames())
		}
	}
	return kinds, nil
}

func kindNames() string {
	var s []string
	for _, k := range relayKinds {
		s = append(s, k.name)
	}
	return strings.Join(s, ", ")
}

// sysRun is what one system gave on one network.
type sysRun struct {
	kind  rsysKind
	label string
	cells []cell // by the net's sizes
	big   sweepPoint
	bigLn []string
	sweep sweepPoint
	swPts []sweepPoint
	swLn  []string
}

func benchRelay() result {
	plan := fullRelayPlan()
	if relayQuick {
		plan = quickRelayPlan()
	}
	plan = plan.selected()
	kinds, err := relayKindsToRun()
	must(err)
	var res result
	for _, net := range plan.nets {
		edges := randomTopology(net.n, sizeOut, 1)
		logf("relay n=%d: %d edges (every node dials %d others), systems %s", net.n, len(edges), sizeOut, kindNamesOf(kinds))
		maxSize := 0
		for _, s := range net.sizes {
			maxSize = max(maxSize, s.bytes)
		}
		b := rbuild{n: net.n, edges: edges, maxSize: maxSize}
		var runs []sysRun
		for _, k := range kinds {
			runs = append(runs, runSystem(k, b, net, plan, &res.notes))
		}
		rs, notes := relayRows(net, edges, runs)
		res.rows, res.notes = append(res.rows, rs...), append(res.notes, notes...)
		if net.sweep {
			rs, notes, c := relaySweepRows(net, plan, runs)
			res.rows, res.notes, res.curves = append(res.rows, rs...), append(res.notes, notes...), append(res.curves, c)
		}
		if net.big {
			rs, notes := relayBigRows(net, plan, runs)
			res.rows, res.notes = append(res.rows, rs...), append(res.notes, notes...)
		}
	}
	if flood, ok := kindNamed("flood"); ok && kinds[0].name != "flood" && wantPart("delay") {
		rs, notes := relayDelay(kinds[0], flood, plan)
		res.rows, res.notes = append(res.rows, rs...), append(res.notes, notes...)
	}
	if wantPart("catchup") {
		r, note := relayCatchUp(kinds[0], plan)
		res.rows, res.notes = append(res.rows, r), append(res.notes, note)
	}
	res.notes = append(res.notes, relayMethodNote(plan, kinds))
	return res
}

func kindNamesOf(ks []rsysKind) string {
	var s []string
	for _, k := range ks {
		s = append(s, k.name)
	}
	return strings.Join(s, ", ")
}

// relayRebuilds bounds the rebuilds of a network that fails its check
// before one part (gossipsub's are themselves healthyGossip's, up to five
// builds each).
const relayRebuilds = 2

// runSystem builds kind alone on b's topology, measures every size of
// net on it, then (if the net says so) the 1 KiB sweep and the 1 MiB
// rates, and tears it down. Before each part a network whose check fails
// is rebuilt, up to relayRebuilds times.
func runSystem(kind rsysKind, b rbuild, net relayNet, plan relayPlan, notes *[]string) sysRun {
	t0 := time.Now()
	sys := kind.build(b)
	logf("relay %s n=%d: built in %s", kind.name, b.n, time.Since(t0).Round(100*time.Millisecond))
	defer func() { sys.close() }()
	run := sysRun{kind: kind, label: sys.label()}
	healthy := func(what string) {
		for try := 1; try <= relayRebuilds; try++ {
			ck, ok := sys.(checker)
			if !ok {
				return
			}
			err := ck.check()
			if err == nil {
				return
			}
			logf("relay %s n=%d before %s: %v; rebuilt (try %d)", kind.name, b.n, what, err, try)
			*notes = append(*notes, fmt.Sprintf("relay %s n=%d: the network was broken before %s (%v) and was rebuilt.", kind.name, b.n, what, err))
			if nt, ok := sys.(noter); ok {
				*notes = append(*notes, nt.notes()...)
			}
			settle()
			sys.close()
			sys = kind.build(b)
		}
	}
	for _, rs := range net.sizes {
		healthy(rs.label)
		run.cells = append(run.cells, measureCell(sys, b.n, rs))
	}
	// The sweep before the 1 MiB rates: those are what most often
	// breaks a network (dchat's channels stop on write deadlines).
	if net.sweep {
		healthy("the sweep")
		settle()
		run.sweep, run.swPts, run.swLn = sweepUp(sized{sys, 1 << 10}, b.n, plan.sweepRates, sweepSpec, mrand.New(mrand.NewPCG(3, 4)))
	}
	if net.big {
		healthy("the 1 MiB rates")
		settle()
		run.big, _, run.bigLn = sweepUp(sized{sys, 1 << 20}, b.n, plan.bigRates, plan.bigSpec, mrand.New(mrand.NewPCG(5, 6)))
	}
	if nt, ok := sys.(noter); ok {
		*notes = append(*notes, nt.notes()...)
	}
	logf("relay %s n=%d: done in %s", kind.name, b.n, time.Since(t0).Round(time.Second))
	return run
}

// relayDelay measures reach-all on n = plan.delayN with every edge
// through a proxy that delays each direction by linkDelay, for the dnode
// system and the raw flood, each alone.
func relayDelay(dn, flood rsysKind, plan relayPlan) ([]row, []string) {
	n := plan.delayN
	edges := randomTopology(n, sizeOut, 1)
	var cs []cell
	for _, k := range []rsysKind{dn, flood} {
		ps := &proxies{delay: linkDelay}
		t0 := time.Now()
		sys := k.build(rbuild{n: n, edges: edges, maxSize: plan.delaySize.bytes, ps: ps})
		logf("relay %s n=%d, %s links: built in %s", k.name, n, linkDelay, time.Since(t0).Round(100*time.Millisecond))
		cs = append(cs, measureCell(sys, n, plan.delaySize))
		sys.close()
		ps.close()
	}
	d, f := cs[0], cs[1]
	name := fmt.Sprintf("%s n=%d %s, %s one-way per link:", dn.name, n, plan.delaySize.label, linkDelay)
	label := "raw-TCP flood, same topology and delays"
	rows := []row{
		{bench: name + " reach-all p50", unit: "ms", dnode: d.p50, base: f.p50, baseName: label, target: "≤ 1.05×", targetRatio: 1.05, lowerBetter: true},
		{bench: name + " reach-all p99", unit: "ms", dnode: d.p99, base: f.p99, baseName: label, lowerBetter: true},
	}
	note := fmt.Sprintf("relay, %s links (n=%d, %d edges): %d blocks of %d messages of %s at %d/s after a warm-up of one message from every node; every edge of both systems through its own delaying TCP proxy (as the size curves); delivery %s %s, flood %s; write bytes are not reported here (the proxies write every byte again).",
		linkDelay, n, len(edges), plan.delaySize.blocks, plan.delaySize.msgs, plan.delaySize.label, plan.delaySize.rate, dn.name, fmtFracs(d.deliv), fmtFracs(f.deliv))
	return rows, []string{note}
}

func relayMethodNote(plan relayPlan, kinds []rsysKind) string {
	var ns []string
	for _, net := range plan.nets {
		var ss []string
		for _, s := range net.sizes {
			ss = append(ss, fmt.Sprintf("%s (%d×%d at %d/s, warm-up at %d/s)", s.label, s.blocks, s.msgs, s.rate, s.warmRate))
		}
		ns = append(ns, fmt.Sprintf("n=%d: %s", net.n, strings.Join(ss, ", ")))
	}
	return fmt.Sprintf("relay method: systems %s, each alone in the process on the fixed random topology (every node dials %d distinct others, seed 1), built, measured and torn down in turn; matrix %s; per size: settle, %s quiet, %s idle (write bytes and CPU), warm-up (one message from every node), then blocks from seeded random publishers (the same for every system); a block's window runs from its first publish until, at least %s after its last delivery, the process writes at most %d KiB/s above its idle rate over two %s samples in a row (redundant copies of large messages are still queued when the last node gets its first); wire bytes = the process's write bytes (/proc/self/io wchar) over the window minus the idle rate; a delivery is one message reaching one node other than its publisher; a message that missed a node counts as never delivered (an hour) in reach-all.",
		kindNamesOf(kinds), sizeOut, strings.Join(ns, "; "), relayQuiet, relayIdle, relayTail, quietSlack>>10, quietSample)
}
