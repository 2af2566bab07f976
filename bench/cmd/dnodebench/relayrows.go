package main

import (
	"fmt"
	"strings"
	"time"
)

// relayMetric is one figure of a cell, a row against each baseline.
type relayMetric struct {
	key, title, unit string
	get              func(cell) agg
}

var relayMetrics = []relayMetric{
	{"wire", "wire bytes per delivery (after warm-up)", "B", func(c cell) agg { return c.wire }},
	{"dups", "duplicates received per delivery", "copies", func(c cell) agg { return c.dups }},
	{"p50", "reach-all p50", "ms", func(c cell) agg { return c.p50 }},
	{"p99", "reach-all p99", "ms", func(c cell) agg { return c.p99 }},
	{"cpu", "CPU per delivery (whole process)", "µs", func(c cell) agg { return c.cpu }},
}

// relayTarget is issue 10's target for metric at (n, size) against the
// baseline system base ("payload": against the payload itself): its
// text and ratio, or ("", 0). All are lower-is-better.
func relayTarget(metric string, n, size int, base string) (string, float64) {
	const kib, mib = 1 << 10, 1 << 20
	switch {
	case metric == "wire" && base == "payload" && (n == 100 && size == kib || n == 40 && size == mib):
		return "≤ 1.3× payload", 1.3
	case metric == "p50" && n == 40 && size == kib && base == "flood":
		return "≤ 1.3×", 1.3
	case metric == "p50" && n == 40 && size == kib && base == "gossipsub":
		return "≤ 0.8×", 0.8
	case metric == "p50" && n == 40 && size == mib && base == "gossipsub":
		return "≤ 0.5×", 0.5
	case metric == "p50" && n == 200 && size == kib && base == "flood":
		return "≤ 2×", 2
	}
	return "", 0
}

// relayRows are the rows of one network: per size, the dnode system's
// wire bytes against the payload, then every metric against every
// baseline system; and a note per size with every system's figures.
func relayRows(net relayNet, edges [][2]int, runs []sysRun) ([]row, []string) {
	dn := runs[0]
	var rows []row
	var notes []string
	for si, rs := range net.sizes {
		d := dn.cells[si]
		pre := fmt.Sprintf("%s n=%d %s:", dn.kind.name, net.n, rs.label)
		payload := make(agg, len(d.wire))
		for i := range payload {
			payload[i] = float64(rs.bytes)
		}
		t, r := relayTarget("wire", net.targetsAt, rs.bytes, "payload")
		rows = append(rows, row{bench: pre + " wire bytes per delivery (after warm-up)", unit: "B", dnode: d.wire, base: payload,
			baseName: "payload (the floor: one copy per delivery)", target: t, targetRatio: r, lowerBetter: true})
		for _, m := range relayMetrics {
			for _, b := range runs[1:] {
				t, r := relayTarget(m.key, net.targetsAt, rs.bytes, b.kind.name)
				rows = append(rows, row{bench: pre + " " + m.title, unit: m.unit, dnode: m.get(d), base: m.get(b.cells[si]),
					baseName: b.label, target: t, targetRatio: r, lowerBetter: true})
			}
		}
		var parts []string
		for _, run := range runs {
			c := run.cells[si]
			p := float64(rs.bytes)
			parts = append(parts, fmt.Sprintf("%s: wire %s× payload (warm-up %.2f×), duplicates per delivery %s (warm-up %.2f), reach-all p50 %s p99 %s ms, CPU %s µs, delivery %s (warm-up %.4f, %s); idle %.0f KiB/s written, %.0f %% of a core",
				run.kind.name, fmtAgg(scaled(c.wire, 1/p)), c.warm.wirePer()/p, fmtAgg(c.dups), c.warm.dupsPer(), fmtAgg(c.p50), fmtAgg(c.p99), fmtAgg(c.cpu),
				fmtFracs(c.deliv), c.warm.deliv, c.warm.took.Round(100*time.Millisecond), c.idleRate/1024, 100*c.idleCPU))
		}
		notes = append(notes, fmt.Sprintf("relay n=%d %s (%d edges; %d blocks of %d messages at %d/s after a warm-up of one message from each of the %d nodes at %d/s): %s.",
			net.n, rs.label, len(edges), rs.blocks, rs.msgs, rs.rate, net.n, rs.warmRate, strings.Join(parts, "; ")))
	}
	return rows, notes
}

func scaled(a agg, k float64) agg {
	out := make(agg, len(a))
	for i, v := range a {
		out[i] = v * k
	}
	return out
}

// relaySweepRows are the max sustained rate at 1 KiB (each system swept
// alone) against every baseline, with the CPU per delivery there, and
// the curve of reach-all p99 against the load.
func relaySweepRows(net relayNet, plan relayPlan, runs []sysRun) ([]row, []string, curve) {
	dn := runs[0]
	one := func(v float64) agg { return agg{v} }
	c := curve{File: "relay-reach-vs-load", Title: fmt.Sprintf("Broadcast reach-all p99 against offered load, each system alone (n=%d, 1 KiB)", net.n),
		XLabel: "offered load (msg/s)", YLabel: "reach-all p99 (ms)", LogX: true, LogY: true}
	var rows []row
	var notes []string
	name := fmt.Sprintf("%s n=%d 1 KiB: max sustained rate (each system alone; delivery ≥ 99.9 %%, reach-all p99 ≤ %s)", dn.kind.name, net.n, sweepMaxP99)
	for _, b := range runs[1:] {
		t, r := "", 0.0
		if net.targetsAt == 40 {
			switch b.kind.name {
			case "flood":
				t, r = "≥ 0.7×", 0.7
			case "gossipsub":
				t, r = "≥ 5×", 5
			}
		}
		rows = append(rows, row{bench: name, unit: "msg/s", dnode: one(float64(dn.sweep.rate)), base: one(float64(b.sweep.rate)), baseName: b.label, target: t, targetRatio: r})
	}
	for _, b := range runs[1:] {
		rows = append(rows, row{bench: fmt.Sprintf("%s n=%d 1 KiB: CPU per delivery at each system's max sustained rate", dn.kind.name, net.n), unit: "µs",
			dnode: one(dn.sweep.cpuPerDeliv), base: one(b.sweep.cpuPerDeliv), baseName: b.label, lowerBetter: true})
	}
	for _, run := range runs {
		s := series{Name: run.kind.name}
		for _, pt := range run.swPts {
			s.X = append(s.X, float64(pt.rate))
			s.Y = append(s.Y, min(ms(pt.p99), 5000))
		}
		c.Series = append(c.Series, s)
		notes = append(notes, fmt.Sprintf("relay sweep n=%d 1 KiB, %s alone (delivery, reach-all p50/p99, CPU per delivery): %s.", net.n, run.kind.name, strings.Join(run.swLn, "; ")))
	}
	notes = append(notes, fmt.Sprintf("relay sweep: offered loads %v msg/s, %s each from random nodes (the same for every system), then up to %s for the last deliveries, after the sizes were measured on the same network (before the 1 MiB rates); a system stops at the first load it does not sustain.",
		plan.sweepRates, sweepSpec.step, sweepSpec.drain))
	return rows, notes, c
}

// relayBigRows: the highest of plan.bigRates each system sustains with
// 1 MiB messages, against the target of 5/s and against every baseline.
func relayBigRows(net relayNet, plan relayPlan, runs []sysRun) ([]row, []string) {
	dn := runs[0]
	one := func(v float64) agg { return agg{v} }
	name := fmt.Sprintf("%s n=%d 1 MiB: highest sustained of %v msg/s (each system alone; delivery ≥ 99.9 %%, reach-all p99 ≤ %s)", dn.kind.name, net.n, plan.bigRates, plan.bigSpec.maxP99)
	rows := []row{{bench: name, unit: "msg/s", dnode: one(float64(dn.big.rate)), base: one(5), baseName: "target rate", target: "≥ 5 msg/s", targetRatio: 1}}
	var notes []string
	for _, b := range runs[1:] {
		rows = append(rows, row{bench: name, unit: "msg/s", dnode: one(float64(dn.big.rate)), base: one(float64(b.big.rate)), baseName: b.label})
	}
	for _, run := range runs {
		notes = append(notes, fmt.Sprintf("relay 1 MiB rates n=%d, %s alone (delivery, reach-all p50/p99, CPU per delivery): %s.", net.n, run.kind.name, strings.Join(run.bigLn, "; ")))
	}
	notes = append(notes, fmt.Sprintf("relay 1 MiB rates: each of %v msg/s for %s (at least %d messages) from random nodes, then up to %s for the last deliveries; a system stops at the first rate it does not sustain (0: not even the first).",
		plan.bigRates, plan.bigSpec.step, plan.bigSpec.minMsgs, plan.bigSpec.drain))
	return rows, notes
}
