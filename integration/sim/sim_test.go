//go:build !race

// The simulated handshakes use plain X25519 key exchange instead of Go's
// default hybrid post-quantum one (X25519MLKEM768): handshake crypto is
// the largest share of the simulation's CPU time, and the key exchange
// tests nothing of dnode's.
//
//go:debug tlsmlkem=0
package sim

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dnode-p2p/dnode/relay"
)

// defaultNodes is TestSimulation's network size: the 1000 nodes
// (about 3 minutes on 2 cores).
const defaultNodes = 1000

var (
	simNodes = flag.Int("sim.nodes", defaultNodes, "nodes in TestSimulation (plus the seeds)")
	simSeeds = flag.Int("sim.seeds", 3, "seeds in TestSimulation")
	simHeap  = flag.String("sim.heapprofile", "", "write a heap profile to this file once every slot is full")
	simGor   = flag.String("sim.goroutineprofile", "", "write a goroutine profile to this file once every slot is full")
	simTpt   = flag.String("sim.transport", transportMem, "simulated transport: mem (memnet, as TCP) or quic (QUIC on simnet)")
)

// simTransport returns -sim.transport, failing the test on an unknown one.
func simTransport(t *testing.T) string {
	switch *simTpt {
	case transportMem, transportQUIC:
		return *simTpt
	}
	t.Fatalf("-sim.transport %q: want %s or %s", *simTpt, transportMem, transportQUIC)
	return ""
}

// TestSimulation bootstraps a network of -sim.nodes nodes from 3 seeds on
// a simulated network, waits until every node's 8 outbound slots are full,
// then publishes 20 dchat messages (relay messages) from 5 nodes,
// stopping a tenth of the other nodes after the tenth (the publishers'
// trees lose nodes and are repaired), and checks that every node still
// alive delivered every message exactly once. It logs the
// simulated time each phase took and the real time and memory the run
// cost.
func TestSimulation(t *testing.T) {
	n := *simNodes
	if testing.Short() && n > 200 {
		n = 200
	}
	cfg := config{seeds: *simSeeds, nodes: n, outbound: 8, inbound: 32,
		latency: 10 * time.Millisecond, bandwidth: 20_000_000, transport: simTransport(t)}
	realStart := time.Now()
	var peakHeap uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapInuse)
	}
	synctest.Test(t, func(t *testing.T) {
		simStart := time.Now()
		nw := startNetwork(t, cfg)
		started := time.Now()
		sample()

		// Every slot of every node filled. DarkFi's timers are not
		// shortened: this is simulated time.
		ok := waitFor(10*time.Minute, 500*time.Millisecond, func() bool {
			full, _ := nw.filled()
			return full == n
		})
		full, slots := nw.filled()
		fillTime := time.Since(started)
		sample()
		if !ok {
			t.Fatalf("after %s (simulated) only %d of %d nodes have every slot filled (%d of %d slots)",
				fillTime, full, n, slots, n*cfg.outbound)
		}
		if *simHeap != "" {
			writeProfile(t, "heap", *simHeap)
		}
		if *simGor != "" {
			writeProfile(t, "goroutine", *simGor)
		}
		t.Logf("memory at full slots: %s", liveMemory(n+cfg.seeds))
		t.Logf("slots: all %d nodes full (%d slots) %s after the last node started (simulated; starting %d nodes took %s simulated)",
			n, slots, fillTime.Round(time.Millisecond), n+cfg.seeds, started.Sub(simStart).Round(time.Millisecond))

		// A stream of relay messages from five publishers; a tenth of the
		// other nodes stop halfway through, after every publisher's tree
		// formed, so the second half travels on trees that lost nodes and
		// must be repaired. Every message reaches every node still alive
		// exactly once.
		const msgs, killAt, publishers = 20, 10, 5
		alive := make([]bool, n)
		for i := range alive {
			alive[i] = true
		}
		pubs := rand.Perm(n)[:publishers]
		type sentMsg struct {
			id   relay.ID
			from int
			at   time.Time
		}
		var sent []sentMsg
		var killed int
		for k := range msgs {
			if k == killAt {
				for _, i := range rand.Perm(n) {
					if killed == n/10 {
						break
					}
					if !slices.Contains(pubs, i) {
						alive[i] = false
						killed++
						_ = nw.nodes[i].node.Stop()
					}
				}
			}
			from := pubs[k%publishers]
			m, err := nw.nodes[from].chat.Send(fmt.Sprintf("message %d from the simulation", k))
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			id, _ := relay.ParseID(m.ID)
			sent = append(sent, sentMsg{id: id, from: from, at: time.Now()})
			time.Sleep(100 * time.Millisecond) // the publishing rate
		}
		var reached []time.Duration
		ok = waitFor(2*time.Minute, 10*time.Millisecond, func() bool {
			reached = reached[:0]
			for _, sm := range sent {
				var last time.Time
				for i, sn := range nw.nodes {
					if i == sm.from || !alive[i] {
						continue
					}
					c, at := sn.delivered(sm.id)
					if c == 0 {
						return false
					}
					if at.After(last) {
						last = at
					}
				}
				reached = append(reached, last.Sub(sm.at))
			}
			return true
		})
		if !ok {
			missing := 0
			for _, sm := range sent {
				for i, sn := range nw.nodes {
					if i != sm.from && alive[i] {
						if c, _ := sn.delivered(sm.id); c == 0 {
							missing++
						}
					}
				}
			}
			t.Fatalf("after two simulated minutes %d deliveries are missing", missing)
		}
		// Copies in flight arrive within a few link latencies: give them
		// far more (simulated time), then count.
		time.Sleep(5 * time.Second)
		var dups, grafts, recv uint64
		for i, sn := range nw.nodes {
			st := sn.relay.Stats()
			dups += st.Duplicates
			grafts += st.Grafts
			recv += st.Received
			if !alive[i] {
				continue
			}
			for k, sm := range sent {
				if c, _ := sn.delivered(sm.id); i != sm.from && c != 1 {
					t.Errorf("node %d delivered message %d %d times", i, k, c)
				}
			}
		}
		sample()
		slices.Sort(reached)
		t.Logf("relay: %d messages from %d publishers, %d other nodes stopped after message %d; each reached every live node once; reach-all (simulated) median %s, max %s; %d deliveries, %d duplicates, %d grafts",
			msgs, publishers, killed, killAt, reached[len(reached)/2].Round(time.Microsecond), reached[len(reached)-1].Round(time.Microsecond), recv, dups, grafts)
	})
	t.Logf("cost: %d nodes + %d seeds on %s simulated in %s real time, peak heap in use %d MiB, peak RSS (VmHWM) %s",
		n, cfg.seeds, cfg.transport, time.Since(realStart).Round(time.Millisecond), peakHeap>>20, peakRSS())
}

// peakRSS returns the process's peak resident set size as
// /proc/self/status reports it (VmHWM), or "unknown".
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb uint64
			if _, err := fmt.Sscan(v, &kb); err == nil {
				return fmt.Sprintf("%d MiB", kb>>10)
			}
		}
	}
	return "unknown"
}

// writeProfile writes the named runtime/pprof profile (after a
// collection, so a heap profile shows what is live) to path.
func writeProfile(t *testing.T, name, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}

// liveMemory describes the memory the process holds after a collection:
// the live heap, goroutine stacks and the goroutines, in total and per
// host (hosts nodes and seeds).
func liveMemory(hosts int) string {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g := runtime.NumGoroutine()
	start := []metrics.Sample{{Name: "/gc/stack/starting-size:bytes"}}
	metrics.Read(start)
	return fmt.Sprintf("live heap %d MiB (%d KiB a host), stacks %d MiB (new goroutines start with %d KiB), %d goroutines (%d a host)",
		ms.HeapAlloc>>20, ms.HeapAlloc>>10/uint64(hosts), ms.StackInuse>>20, start[0].Value.Uint64()>>10, g, g/hosts)
}
