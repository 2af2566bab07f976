package procs

import (
	"flag"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/rpc"
)

var (
	procsOn = flag.Bool("procs", false, "run TestProcesses: start -procs-n real dnode processes")
	procsN  = flag.Int("procs-n", 300, "processes of TestProcesses, 3 of them seeds")
	idleFor = flag.Duration("procs-idle", 30*time.Second, "TestProcesses: the idle window after the message over which CPU use is measured")
)

const seeds = 3

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }

// TestProcesses builds dnode, starts 3 seeds and -procs-n minus 3 nodes
// as processes on their own loopback addresses, waits until every node's
// 8 outbound slots are full, sends one dchat message from one node and
// waits until every other node received it, then logs each process's
// RSS, CPU and fds. Every process is stopped at the end.
func TestProcesses(t *testing.T) {
	if !*procsOn {
		t.Skip("starts hundreds of dnode processes: run with -procs [-procs-n N] (docs/simulation.md)")
	}
	n := *procsN
	if n < seeds+9 {
		t.Fatalf("-procs-n %d: at least %d (3 seeds and enough nodes for 8 outbound slots each)", n, seeds+9)
	}
	bin := buildDnode(t)
	ps := make([]*proc, n)
	for i := range ps {
		ps[i] = &proc{name: fmt.Sprintf("node%d", i-seeds), ip: ipFor(i), dir: filepath.Join(t.TempDir(), fmt.Sprint(i))}
		if i < seeds {
			ps[i].name, ps[i].seed = fmt.Sprintf("seed%d", i), true
		}
	}
	// Stop every process whatever happens, all at once.
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Go(func() { p.stop(10 * time.Second) })
		}
		wg.Wait()
	})

	began := time.Now()
	var seedAddrs []string
	for _, p := range ps[:seeds] {
		if err := p.start(bin, nil, n); err != nil {
			t.Fatal(err)
		}
		seedAddrs = append(seedAddrs, p.P2PAddr())
	}
	waitReady(t, ps[:seeds])
	for _, p := range ps[seeds:] {
		if err := p.start(bin, seedAddrs, n); err != nil {
			t.Fatal(err)
		}
	}
	waitReady(t, ps[seeds:])
	started := time.Now()
	t.Logf("%d processes (%d seeds) started and answering in %s", n, seeds, started.Sub(began).Round(time.Millisecond))

	nodes := ps[seeds:]
	var full int
	ok := poll(t, ps, 10*time.Minute, 2*time.Second, func() bool {
		full = 0
		for _, p := range nodes {
			var info struct {
				OutboundSlots []uint64 `json:"outbound_slots"`
			}
			if p.call("p2p.get_info", &info, 0, 1) == nil && len(info.OutboundSlots) == 8 && !slices.Contains(info.OutboundSlots, 0) {
				full++
			}
		}
		return full == len(nodes)
	})
	if !ok {
		t.Fatalf("after %s only %d of %d nodes have all 8 outbound slots full", time.Since(started).Round(time.Second), full, len(nodes))
	}
	filled := time.Now()
	t.Logf("slots: all %d nodes have 8 outbound slots full %s after the first process started, %s after the last one answered",
		len(nodes), filled.Sub(began).Round(time.Millisecond), filled.Sub(started).Round(time.Millisecond))

	text := fmt.Sprintf("hello from node0 at %d", time.Now().UnixNano())
	var sent rpc.ChatMessage
	if err := nodes[0].call("dchat.send", &sent, text); err != nil {
		t.Fatal(err)
	}
	sentAt := time.Now()
	var have int
	ok = poll(t, ps, 2*time.Minute, 200*time.Millisecond, func() bool {
		have = 0
		for _, p := range nodes[1:] {
			var msgs []rpc.ChatMessage
			if p.call("dchat.recv", &msgs, 16) != nil {
				continue
			}
			if slices.ContainsFunc(msgs, func(m rpc.ChatMessage) bool { return m.Text == text }) {
				have++
			}
		}
		return have == len(nodes)-1
	})
	if !ok {
		t.Fatalf("after 2 minutes the message reached %d of %d nodes", have, len(nodes)-1)
	}
	t.Logf("relay: the dchat message from node0 reached all %d other nodes within %s (polled over RPC)", len(nodes)-1, time.Since(sentAt).Round(time.Millisecond))
	before := samples(t, ps)
	time.Sleep(*idleFor) // a measurement window, not a wait for a condition
	after := samples(t, ps)
	for _, p := range ps {
		if err := p.alive(); err != nil {
			t.Fatal(err)
		}
	}
	report(t, "seeds", before[:seeds], after[:seeds], *idleFor, time.Since(began))
	report(t, "nodes", before[seeds:], after[seeds:], *idleFor, time.Since(began))
}

// buildDnode builds the dnode command into a temporary directory.
func buildDnode(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "dnode")
	if out, err := exec.Command(goTool, "build", "-o", bin, "github.com/dnode-p2p/dnode/cmd/dnode").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// waitReady waits until every process of ps answers (60 s plus 200 ms a
// process), failing on one that exits.
func waitReady(t *testing.T, ps []*proc) {
	t.Helper()
	pending := slices.Clone(ps)
	ok := poll(t, ps, time.Minute+time.Duration(len(ps))*200*time.Millisecond, 100*time.Millisecond, func() bool {
		pending = slices.DeleteFunc(pending, func(p *proc) bool {
			ok, err := p.ready()
			if err != nil {
				t.Fatal(err)
			}
			return ok
		})
		return len(pending) == 0
	})
	if !ok {
		t.Fatalf("%d processes do not answer, %s first", len(pending), pending[0].name)
	}
}

// poll calls cond every step until it holds or timeout passed, failing
// the test as soon as a process of ps died or panicked.
func poll(t *testing.T, ps []*proc, timeout, step time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, p := range ps {
			if err := p.alive(); err != nil {
				t.Fatal(err)
			}
		}
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(step) // the polling interval, not a wait for a condition
	}
}

// samples reads the resources of every process of ps.
func samples(t *testing.T, ps []*proc) []usage {
	t.Helper()
	out := make([]usage, len(ps))
	for i, p := range ps {
		u, err := p.sample()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = u
	}
	return out
}

// report logs, for one group of processes, min/median/max and total of
// RSS and fds (at the end of the idle window), of the CPU time used since
// each started (the test ran for ran), and of the CPU used in the idle
// window of length idle.
func report(t *testing.T, what string, before, after []usage, idle, ran time.Duration) {
	t.Helper()
	var rss, fds []int
	var cpu, idleCPU []float64
	for i, u := range after {
		rss, fds = append(rss, u.rssKB), append(fds, u.fds)
		cpu, idleCPU = append(cpu, u.cpu), append(idleCPU, (u.cpu-before[i].cpu)/idle.Seconds()*100)
	}
	mib := func(kb int) float64 { return float64(kb) / 1024 }
	t.Logf("%s (%d): RSS MiB %s, total %.2f GiB; fds %s; CPU s since start %s, total %.0f s in %s; idle CPU %% of a core over %s %s, total %.1f %%",
		what, len(after), spread(rss, mib, 1), mib(sum(rss))/1024, spread(fds, func(n int) float64 { return float64(n) }, 0),
		spread(cpu, same, 2), sum(cpu), ran.Round(time.Second), idle, spread(idleCPU, same, 2), sum(idleCPU))
}

// spread formats min/median/max of xs, each mapped by f, with prec
// decimals.
func spread[T int | float64](xs []T, f func(T) float64, prec int) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	return fmt.Sprintf("min/median/max %.*f/%.*f/%.*f", prec, f(s[0]), prec, f(s[len(s)/2]), prec, f(s[len(s)-1]))
}

func same(x float64) float64 { return x }

func sum[T int | float64](xs []T) T {
	var t T
	for _, x := range xs {
		t += x
	}
	return t
}
