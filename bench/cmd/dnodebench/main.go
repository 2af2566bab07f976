// Command dnodebench runs dnode's benchmark suite: every dnode figure is
// measured next to its baseline (raw TCP, bare go-libp2p, a raw-TCP flood)
// in the same process and run, and reported as a ratio, median over rounds
// with the min–max spread. It prints a markdown report and, with -out,
// writes it to a file.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

// row is one line of the results table.
type row struct {
	bench, unit string
	dnode, base agg // per-round values
	baseName    string
	target      string
	targetRatio float64 // 0: no target
	lowerBetter bool    // the ratio must be ≤ targetRatio (else ≥)
	note        string
}

func (r row) ratios() agg {
	var out agg
	for i := range r.dnode {
		if i < len(r.base) && r.base[i] != 0 {
			out = append(out, r.dnode[i]/r.base[i])
		}
	}
	return out
}

// result is what one benchmark returns: table rows, notes printed under the
// table, and curves plotted into docs/img.
type result struct {
	rows   []row
	notes  []string
	curves []curve
}

// benchmark is one entry of the suite; -only selects by name.
type benchmark struct {
	name string
	run  func(cfg config) result
}

// config carries the command-line knobs a benchmark may read.
type config struct {
	rounds int // rounds for point-to-point benchmarks
}

// suite lists the benchmarks in the order they run and appear.
var suite = []benchmark{
	{"setup", func(c config) result {
		return result{rows: benchSetup(c.rounds, 100), notes: []string{"channel setup: responder channels that stayed in the node's table, already stopped, more than 2 s after their connection closed (stopped by hand to go on): " + setupZombies + "."}}
	}},
	{"rtt", func(c config) result { return result{rows: benchRTT(c.rounds, 3000)} }},
	{"send", func(c config) result {
		rows := benchSend(c.rounds, 30000)
		return result{rows: append(rows, benchSendSmall(c.rounds, 100000)...)}
	}},
	{"bulk", func(c config) result { return result{rows: benchBulk(c.rounds, 256)} }},
	{"broadcast", func(c config) result {
		rs, notes, curves := benchBroadcast(40, 8, 200, 20, true)
		return result{rows: rs, notes: notes, curves: curves}
	}},
	{"setuprate", func(c config) result {
		rs, notes := benchSetupRate(3, 1000)
		return result{rows: rs, notes: notes}
	}},
	{"churn", func(c config) result {
		rs, notes := benchChurn(2000, 50)
		return result{rows: rs, notes: notes}
	}},
	{"bootstrap", func(c config) result {
		rs, notes, curves := benchBootstrap([]int{10, 50, 100}, 8)
		return result{rows: rs, notes: notes, curves: curves}
	}},
	{"addr", func(c config) result {
		rs, notes := benchAddr(c.rounds)
		return result{rows: rs, notes: notes}
	}},
	{"size", func(c config) result {
		rs, notes, curves := benchSize()
		return result{rows: rs, notes: notes, curves: curves}
	}},
	{"idle", func(c config) result {
		rs, notes, curves := benchIdle([]int{100, 250, 500, 1000}, 500)
		return result{rows: rs, notes: notes, curves: curves}
	}},
	{"relay", func(c config) result { return benchRelay() }},
}

// met reports whether the median ratio meets the target; ok is false when
// the row has no target or no ratio.
func (r row) met() (met, ok bool) {
	rat := r.ratios()
	if r.targetRatio <= 0 || len(rat) == 0 {
		return false, false
	}
	m := rat.med()
	return (r.lowerBetter && m <= r.targetRatio) || (!r.lowerBetter && m >= r.targetRatio), true
}

func main() {
	out := flag.String("out", "", "write the markdown report into this file (between the dnodebench markers)")
	jsonOut := flag.String("json", "", "write the results as JSON to this file")
	imgDir := flag.String("img", "", "write the curves as PNG files into this directory")
	only := flag.String("only", "", "comma-separated subset of: "+suiteNames())
	rounds := flag.Int("rounds", 5, "rounds for point-to-point benchmarks")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	defer cleanup()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		must(err)
		must(pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	want := func(name string) bool {
		return *only == "" || strings.Contains(","+*only+",", ","+name+",")
	}
	cfg := config{rounds: *rounds}
	start := time.Now()
	var all result
	for _, b := range suite {
		if !want(b.name) {
			continue
		}
		t0 := time.Now()
		logf("== %s", b.name)
		r := b.run(cfg)
		logf("== %s done in %s", b.name, time.Since(t0).Round(time.Second))
		all.rows = append(all.rows, r.rows...)
		all.notes = append(all.notes, r.notes...)
		all.curves = append(all.curves, r.curves...)
	}
	took := time.Since(start)
	imgRef := ""
	if *imgDir != "" {
		for _, c := range all.curves {
			must(writePlot(*imgDir, c))
		}
		if *out != "" {
			if rel, err := filepath.Rel(filepath.Dir(*out), *imgDir); err == nil {
				imgRef = rel
			}
		}
	}
	report := render(all, imgRef, took)
	fmt.Print(report)
	if *out != "" {
		must(writeDoc(*out, report))
	}
	if *jsonOut != "" {
		must(writeJSON(*jsonOut, all, took))
	}
}

func suiteNames() string {
	var names []string
	for _, b := range suite {
		names = append(names, b.name)
	}
	return strings.Join(names, ",")
}

func machine() (cpu string, cores int) {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if i := strings.Index(l, ":"); i >= 0 {
				cpu = strings.TrimSpace(l[i+1:])
				break
			}
		}
	}
	return cpu, runtime.NumCPU()
}

func gitCommit() string {
	b, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(b))
	if d, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(d))) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}

func fmtv(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func fmtAgg(a agg) string {
	if len(a) == 0 {
		return "–"
	}
	if len(a) == 1 {
		return fmtv(a[0])
	}
	return fmt.Sprintf("%s [%s–%s]", fmtv(a.med()), fmtv(a.min()), fmtv(a.max()))
}

// render returns the results section: machine, table, notes.
func render(res result, imgRef string, took time.Duration) string {
	rows, extra := res.rows, res.notes
	var sb strings.Builder
	cpu, cores := machine()
	fmt.Fprintf(&sb, "Machine: %s, %d cores; %s %s/%s; commit %s; %s; whole run %s.\n\n",
		cpu, cores, runtime.Version(), runtime.GOOS, runtime.GOARCH, gitCommit(),
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), took.Round(time.Second))
	sb.WriteString("| benchmark | unit | dnode | baseline | baseline value | ratio dnode/baseline | target | met |\n")
	sb.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		rat := r.ratios()
		met := ""
		if m, ok := r.met(); ok {
			met = "**no**"
			if m {
				met = "yes"
			}
		}
		ratio := "–"
		if len(rat) > 0 {
			ratio = "×" + fmtAgg(rat)
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.bench, r.unit, fmtAgg(r.dnode), r.baseName, fmtAgg(r.base), ratio, r.target, met)
	}
	sb.WriteString("\nValues are the median over rounds [min–max of the per-round values]; the ratio is computed per round, then summarised the same way.\n")
	if len(extra) > 0 {
		sb.WriteString("\n")
		for _, e := range extra {
			sb.WriteString("- " + e + "\n")
		}
	}
	if imgRef != "" && len(res.curves) > 0 {
		sb.WriteString("\n### Curves\n")
		for _, c := range res.curves {
			fmt.Fprintf(&sb, "\n**%s**\n\n![%s](%s/%s.png)\n", c.Title, c.Title, imgRef, c.File)
		}
	}
	return sb.String()
}

// docSection names the generated section -out writes: "" for the
// suite's, or a name (-section) for a part run on its own, such as the
// relay benchmark, whose markers carry the name.
var docSection string

func init() {
	flag.StringVar(&docSection, "section", "", "write the report between the markers of this named section of -out (<!-- dnodebench:NAME:begin -->), appended when the file has none; default the suite's section")
}

// marks returns the begin and end markers of section ("" the suite's).
func marks(section string) (begin, end string) {
	if section == "" {
		return "<!-- dnodebench:begin -->", "<!-- dnodebench:end -->"
	}
	return "<!-- dnodebench:" + section + ":begin -->", "<!-- dnodebench:" + section + ":end -->"
}

// writeDoc replaces the generated section of path (between the markers
// of docSection), keeping the hand-written text around it; a file without
// the markers gets the section appended (a missing file: just the
// section).
func writeDoc(path, report string) error {
	beginMark, endMark := marks(docSection)
	section := beginMark + "\n" + report + endMark
	b, err := os.ReadFile(path)
	if err != nil {
		return os.WriteFile(path, []byte("# Benchmarks\n\n"+section+"\n"), 0o644)
	}
	s := string(b)
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		return os.WriteFile(path, []byte(strings.TrimRight(s, "\n")+"\n\n"+section+"\n"), 0o644)
	}
	return os.WriteFile(path, []byte(s[:i]+section+s[j+len(endMark):]), 0o644)
}
