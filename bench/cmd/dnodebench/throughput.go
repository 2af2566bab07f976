package main

import (
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"
)

// sweepRates are the offered loads of the throughput sweep, msg/s.
var sweepRates = []int{20, 50, 100, 200, 500, 1000, 1500, 2000, 3000}

const (
	sweepStep     = 3 * time.Second        // publishing time per rate
	sweepDrain    = 3 * time.Second        // longest wait for the last deliveries
	sweepMaxP99   = 200 * time.Millisecond // reach-all p99 a sustained rate keeps
	sweepMinDeliv = 0.999                  // delivery a sustained rate keeps
)

// sweepPoint is one system at one offered load.
type sweepPoint struct {
	rate          int
	deliv         float64
	p50, p99      time.Duration // reach-all; a message that missed a node counts as never
	cpuPerDeliv   float64       // µs, whole process
	sustained     bool
	published, ok int
}

// loadSpec is what one step of a sweep is: publishing for step (at least
// minMsgs messages), waiting up to drain for the last deliveries, and the
// delivery and reach-all p99 a sustained load keeps.
type loadSpec struct {
	step, drain, maxP99 time.Duration
	minDeliv            float64
	minMsgs             int
}

// sweepSpec is the 1 KiB throughput sweep's step.
var sweepSpec = loadSpec{step: sweepStep, drain: sweepDrain, maxP99: sweepMaxP99, minDeliv: sweepMinDeliv}

// sweepLoad is loadAt with sweepSpec.
func sweepLoad(sys bsys, n, rate int, rng *mrand.Rand) sweepPoint {
	return loadAt(sys, n, rate, rng, sweepSpec)
}

// loadAt publishes from random nodes at rate msg/s for ls.step, on a
// fixed schedule (late sends catch up), then waits for the deliveries.
func loadAt(sys bsys, n, rate int, rng *mrand.Rand, ls loadSpec) sweepPoint {
	tr := newTracker()
	sys.set(tr)
	total := max(int(ls.step.Seconds()*float64(rate)), ls.minMsgs)
	interval := time.Second / time.Duration(rate)
	cpu0 := cpuTime()
	start := time.Now()
	for k := range total {
		if d := time.Until(start.Add(time.Duration(k) * interval)); d > 0 {
			time.Sleep(d)
		}
		ts := time.Now()
		tr.send(sys.publish(rng.IntN(n)), ts)
	}
	waitFor(ls.drain, func() bool { return tr.complete(n - 1) })
	ds, deliv, got := tr.result(n - 1)
	pt := sweepPoint{rate: rate, deliv: deliv, published: total, ok: len(ds)}
	pt.cpuPerDeliv = float64(cpuTime()-cpu0) / float64(max(got, 1)) / 1e3
	for len(ds) < total {
		ds = append(ds, time.Hour)
	}
	pt.p50, pt.p99 = pct(ds, 50), pct(ds, 99)
	pt.sustained = deliv >= ls.minDeliv && pt.p99 <= ls.maxP99
	return pt
}

// sweepRate runs one step of ls on sys at rate, logs it, and returns the
// point and its text for the notes. A load not sustained is given a
// second to drain before anything else runs.
func sweepRate(sys bsys, n, rate int, rng *mrand.Rand, ls loadSpec) (sweepPoint, string) {
	pt := loadAt(sys, n, rate, rng, ls)
	p99 := fmt.Sprintf("%.1f", ms(pt.p99))
	if pt.p99 >= time.Hour {
		p99 = "∞"
	}
	what := sys.name()
	if s, ok := sys.(sized); ok {
		what += fmt.Sprintf(" %d KiB", s.size>>10)
	}
	logf("sweep %s %d/s: delivery %.4f, reach-all p50 %.1f ms p99 %s ms, CPU %.0f µs/delivery, sustained %v",
		what, rate, pt.deliv, ms(pt.p50), p99, pt.cpuPerDeliv, pt.sustained)
	if !pt.sustained {
		time.Sleep(time.Second)
	}
	return pt, fmt.Sprintf("%d/s: %.4f, p50 %.1f, p99 %s ms, %.0f µs", rate, pt.deliv, ms(pt.p50), p99, pt.cpuPerDeliv)
}

// sweepUp raises the load on sys through rates until it no longer
// sustains one; best is the last load it sustained (rate 0 if none), the
// points are every load it ran.
func sweepUp(sys bsys, n int, rates []int, ls loadSpec, rng *mrand.Rand) (best sweepPoint, pts []sweepPoint, lines []string) {
	for _, rate := range rates {
		pt, line := sweepRate(sys, n, rate, rng, ls)
		pts, lines = append(pts, pt), append(lines, line)
		if !pt.sustained {
			break
		}
		best = pt
	}
	return best, pts, lines
}

// benchSweep raises the offered load on each system until it no longer
// sustains it (delivery < 99.9 % or reach-all p99 > 200 ms).
func benchSweep(n int, systems []bsys) ([]row, []string, []curve) {
	best := make([]sweepPoint, len(systems))
	c := curve{File: "reach-vs-load", Title: fmt.Sprintf("Broadcast reach-all p99 against offered load (n=%d, 1 KiB)", n),
		XLabel: "offered load (msg/s)", YLabel: "reach-all p99 (ms)", LogX: true, LogY: true}
	profileSystems(n, systems)
	// Rate-major: at each load every system still sustaining runs in
	// turn, so a change in the machine's background load hits them alike.
	rngs := make([]*mrand.Rand, len(systems))
	lines := make([][]string, len(systems))
	alive := make([]bool, len(systems))
	for k, sys := range systems {
		rngs[k] = mrand.New(mrand.NewPCG(3, 4))
		alive[k] = true
		c.Series = append(c.Series, series{Name: sys.name()})
	}
	for _, rate := range sweepRates {
		for k, sys := range systems {
			if !alive[k] {
				continue
			}
			pt, line := sweepRate(sys, n, rate, rngs[k], sweepSpec)
			s := &c.Series[k]
			s.X = append(s.X, float64(rate))
			s.Y = append(s.Y, min(ms(pt.p99), 5000))
			lines[k] = append(lines[k], line)
			if pt.sustained {
				best[k] = pt
			} else {
				alive[k] = false // sweepRate let it drain
			}
		}
	}
	var notes []string
	for k, sys := range systems {
		notes = append(notes, fmt.Sprintf("throughput sweep, %s (delivery, reach-all p50/p99, CPU per delivery): %s.", sys.name(), strings.Join(lines[k], "; ")))
	}
	d := best[0]
	one := func(v float64) agg { return agg{v} }
	rateRow := func(k int, target string, ratio float64) row {
		return row{bench: fmt.Sprintf("max sustained broadcast rate (n=%d, 1 KiB; delivery ≥ 99.9 %%, reach-all p99 ≤ 200 ms)", n), unit: "msg/s",
			dnode: one(float64(d.rate)), base: one(float64(best[k].rate)), baseName: systems[k].label(), target: target, targetRatio: ratio}
	}
	cpuRow := func(k int) row {
		return row{bench: "broadcast CPU per delivery at each system's max sustained rate", unit: "µs",
			dnode: one(d.cpuPerDeliv), base: one(best[k].cpuPerDeliv), baseName: systems[k].label(), lowerBetter: true}
	}
	rows := []row{rateRow(1, "≥ 0.5×", 0.5), rateRow(3, "≥ 5×", 5), rateRow(2, "", 0), cpuRow(1), cpuRow(2), cpuRow(3)}
	notes = append(notes, fmt.Sprintf("throughput sweep: offered loads %v msg/s, %s each from random nodes, then up to %s for the last deliveries; a system stops at the first load it does not sustain; CPU per delivery is the whole process's (all networks idle in the background) over the step and its drain.",
		sweepRates, sweepStep, sweepDrain))
	return rows, notes, []curve{c}
}

func init() {
	flag.StringVar(&sysProfDir, "sysprofile", "", "write one CPU profile per broadcast system (each alone at 200 msg/s, before the throughput sweep) into this directory; not with -cpuprofile")
}

// sysProfDir, if set (-sysprofile), gets one CPU profile per broadcast
// system, each of the system alone at sysProfRate for sweepStep.
var sysProfDir string

const sysProfRate = 200

func profileSystems(n int, systems []bsys) {
	if sysProfDir == "" {
		return
	}
	must(os.MkdirAll(sysProfDir, 0o755))
	for _, sys := range systems {
		f, err := os.Create(filepath.Join(sysProfDir, sys.name()+".prof"))
		must(err)
		must(pprof.StartCPUProfile(f))
		pt := sweepLoad(sys, n, sysProfRate, mrand.New(mrand.NewPCG(5, 6)))
		pprof.StopCPUProfile()
		f.Close()
		logf("profile %s at %d/s: delivery %.4f, p50 %.1f ms, CPU %.0f µs/delivery", sys.name(), sysProfRate, pt.deliv, ms(pt.p50), pt.cpuPerDeliv)
		time.Sleep(time.Second)
	}
}
