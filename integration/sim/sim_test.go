// The simulated handshakes use plain X25519 key exchange instead of Go's
// default hybrid post-quantum one (X25519MLKEM768): handshake crypto is
// the largest share of the simulation's CPU time, and the key exchange
// tests nothing of dnode's.
//
//go:debug tlsmlkem=0
package sim

import (
	"flag"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"testing/synctest"
	"time"
)

var (
	simNodes = flag.Int("sim.nodes", defaultNodes, "nodes in TestSimulation (plus the seeds)")
	simSeeds = flag.Int("sim.seeds", 3, "seeds in TestSimulation")
	simHeap  = flag.String("sim.heapprofile", "", "write a heap profile to this file once every slot is full")
)

// TestSimulation bootstraps a network of -sim.nodes nodes from 3 seeds on
// a simulated network, waits until every node's 8 outbound slots are full,
// then sends one dchat message from a random node and checks that every
// other node delivered it exactly once. It logs the simulated time each
// phase took and the real time and memory the run cost.
func TestSimulation(t *testing.T) {
	n := *simNodes
	if testing.Short() && n > 200 {
		n = 200
	}
	cfg := config{seeds: *simSeeds, nodes: n, outbound: 8, inbound: 32,
		latency: 10 * time.Millisecond, bandwidth: 20_000_000}
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
			writeHeapProfile(t, *simHeap)
		}
		t.Logf("slots: all %d nodes full (%d slots) %s after the last node started (simulated; starting %d nodes took %s simulated)",
			n, slots, fillTime.Round(time.Millisecond), n+cfg.seeds, started.Sub(simStart).Round(time.Millisecond))

		// One message from a random node reaches every node exactly once.
		from := rand.IntN(n)
		before := make([]uint64, n)
		for i, sn := range nw.nodes {
			before[i] = sn.chat.Stats().Delivered
		}
		sent := time.Now()
		if _, err := nw.nodes[from].chat.Send("hello from the simulation"); err != nil {
			t.Fatalf("send: %v", err)
		}
		var reached time.Duration
		ok = waitFor(time.Minute, time.Millisecond, func() bool {
			for i, sn := range nw.nodes {
				if i != from && sn.chat.Stats().Delivered == before[i] {
					return false
				}
			}
			reached = time.Since(sent)
			return true
		})
		if !ok {
			t.Fatalf("message did not reach every node within a simulated minute")
		}
		// Wait until every copy sent has arrived (nothing left in
		// flight), so that a second delivery anywhere would be seen.
		var copies, arrived uint64
		ok = waitFor(time.Minute, time.Millisecond, func() bool {
			copies, arrived = 0, 0
			for _, sn := range nw.nodes {
				st := sn.chat.Stats()
				copies += st.Sent
				arrived += st.Delivered + st.Duplicates + st.Expired + st.Rejected
			}
			return copies == arrived
		})
		if !ok {
			t.Fatalf("copies still in flight after a simulated minute: %d sent, %d arrived", copies, arrived)
		}
		var dups uint64
		for i, sn := range nw.nodes {
			st := sn.chat.Stats()
			got := st.Delivered - before[i]
			if i == from {
				got++ // its own send is not a delivery
			}
			if got != 1 {
				t.Errorf("node %d delivered the message %d times", i, got)
			}
			dups += st.Duplicates
		}
		sample()
		t.Logf("dchat: reached all %d other nodes in %s (simulated), each delivered it once; %d duplicate copies dropped by the seen-caches",
			n-1, reached.Round(time.Microsecond), dups)
	})
	t.Logf("cost: %d nodes + %d seeds simulated in %s real time, peak heap in use %d MiB",
		n, cfg.seeds, time.Since(realStart).Round(time.Millisecond), peakHeap>>20)
}

func writeHeapProfile(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
}
