package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
)

// benchChurn measures leaks under connection churn: cycles of a dnode node
// connecting to a long-lived dnode node (Node.Connect, manual session:
// dial, identify, version handshake), sending 10 app messages of 64 bytes
// that the peer's handler counts, and stopping the channel, then waiting
// (a deadline poll) until neither node has the channel or the connection.
// Goroutines, heap and RSS are taken after warm cycles and again after
// cycles more, each time after runtime.GC + FreeOSMemory and, after the
// run, a deadline poll for goroutines to come back to the first count.
// Baseline: the same cycle with two bare go-libp2p hosts (connect, one
// stream with 10 length-prefixed messages read by the peer, close the
// stream and the connection, wait until both see it closed).
func benchChurn(cycles, warm int) ([]row, []string) {
	ctx := context.Background()
	payload := &wrapperspb.BytesValue{Value: make([]byte, 64)}

	// bare libp2p
	h1, h2 := newBareHost(), newBareHost()
	var bRecvd atomic.Int64
	h2.SetStreamHandler("/churn", func(s network.Stream) {
		defer s.Close()
		buf := make([]byte, 4+64)
		for {
			if _, err := io.ReadFull(s, buf); err != nil {
				return
			}
			bRecvd.Add(1)
		}
	})
	frame := make([]byte, 4+64)
	frame[3] = 64
	ai := addrInfo(h2)
	bareCycle := func() {
		must(h1.Connect(ctx, ai))
		s, err := h1.NewStream(ctx, h2.ID(), "/churn")
		must(err)
		want := bRecvd.Load() + 10
		for range 10 {
			_, err := s.Write(frame)
			must(err)
		}
		if !waitFor(5*time.Second, func() bool { return bRecvd.Load() >= want }) {
			logf("churn: bare peer did not get the 10 messages")
		}
		s.Close()
		_ = h1.Network().ClosePeer(h2.ID())
		waitFor(5*time.Second, func() bool {
			return h2.Network().Connectedness(h1.ID()) != network.Connected &&
				h1.Network().Connectedness(h2.ID()) != network.Connected
		})
	}
	bare := runChurn("bare libp2p", bareCycle, cycles, warm)
	h1.Close()
	h2.Close()

	// dnode
	var dRecvd atomic.Int64
	a := newNode(nodeSettings(tempDir()), func(n *dnode.Node) {
		registerBench(n, func(*channel.Channel, *wrapperspb.BytesValue) error { return nil })
	})
	b := newNode(nodeSettings(tempDir()), func(n *dnode.Node) {
		registerBench(n, func(*channel.Channel, *wrapperspb.BytesValue) error { dRecvd.Add(1); return nil })
	})
	bAddr := b.Addrs()[0]
	zombies := 0
	dnodeCycle := func() {
		ch, err := a.Connect(ctx, bAddr, channel.Manual)
		must(err)
		want := dRecvd.Load() + 10
		for range 10 {
			must(benchProto.Send(ch, payload))
		}
		if !waitFor(5*time.Second, func() bool { return dRecvd.Load() >= want }) {
			logf("churn: dnode peer did not get the 10 messages")
		}
		ch.Stop(nil)
		<-ch.Done()
		gone := func() bool {
			return len(b.Channels()) == 0 && len(a.Channels()) == 0 &&
				nodeinternal.Host(a).Network().Connectedness(b.ID()) != network.Connected &&
				nodeinternal.Host(b).Network().Connectedness(a.ID()) != network.Connected
		}
		if !waitFor(2*time.Second, gone) {
			// The responder kept a channel whose connection closed (see
			// docs/benchmarks.md, Findings): count it, stop it by hand.
			zombies++
			for _, c := range b.Channels() {
				c.Stop(nil)
			}
			waitFor(5*time.Second, gone)
		}
	}
	dn := runChurn("dnode", dnodeCycle, cycles, warm)
	_ = a.Stop()
	_ = b.Stop()

	rows := []row{
		{bench: fmt.Sprintf("churn: goroutines leaked after %d connect/10 msgs/disconnect cycles", cycles), unit: "count", dnode: agg{dn.leaked}, base: agg{bare.leaked}, baseName: "bare libp2p connect, stream, 10 msgs, close", target: "0"},
		{bench: "churn: RSS drift over the cycles", unit: "%", dnode: agg{dn.rssDrift}, base: agg{5}, baseName: "issue target 5 %", target: "≤ 1.0×", targetRatio: 1, lowerBetter: true},
		{bench: "churn: RSS after ÷ RSS before the cycles", unit: "×", dnode: agg{dn.rss1 / dn.rss0}, base: agg{bare.rss1 / bare.rss0}, baseName: "bare libp2p connect, stream, 10 msgs, close", lowerBetter: true},
		{bench: "churn: heap after ÷ heap before the cycles", unit: "×", dnode: agg{dn.heap1 / dn.heap0}, base: agg{bare.heap1 / bare.heap0}, baseName: "bare libp2p connect, stream, 10 msgs, close", lowerBetter: true},
		{bench: "churn: cycles per second", unit: "cycles/s", dnode: agg{dn.rate}, base: agg{bare.rate}, baseName: "bare libp2p connect, stream, 10 msgs, close"},
		{bench: "churn: CPU per cycle", unit: "µs", dnode: agg{dn.cpu}, base: agg{bare.cpu}, baseName: "bare libp2p connect, stream, 10 msgs, close", lowerBetter: true},
	}
	met := "met"
	if dn.leaked > 0 {
		met = "NOT met"
	}
	notes := []string{fmt.Sprintf("churn: %d warm-up cycles, then %d measured; figures after runtime.GC + FreeOSMemory, goroutines polled for up to 10 s to settle. dnode: %d → %d goroutines (target 0 leaked: %s), RSS %.1f → %.1f MiB (%+.2f %%), heap %.2f → %.2f MiB (%+.0f KiB); bare libp2p: %d → %d goroutines, RSS %.1f → %.1f MiB (%+.2f %%), heap %+.0f KiB. Responder channels that outlived their closed connection by > 2 s (stopped by hand): %d of %d cycles.",
		warm, cycles, dn.g0, dn.g1, met, dn.rss0, dn.rss1, dn.rssDrift, dn.heap0, dn.heap1, dn.heapDrift,
		bare.g0, bare.g1, bare.rss0, bare.rss1, bare.rssDrift, bare.heapDrift, zombies, cycles+warm)}
	return rows, notes
}

type churnResult struct {
	g0, g1                      int
	leaked, rssDrift, heapDrift float64
	rss0, rss1, heap0, heap1    float64 // MiB
	rate, cpu                   float64
}

// runChurn runs warm cycles, snapshots, runs cycles and snapshots again
// once the goroutines settled.
func runChurn(name string, cycle func(), cycles, warm int) churnResult {
	for range warm {
		cycle()
	}
	time.Sleep(500 * time.Millisecond)
	m0 := snapMem()
	cpu0, t0 := cpuTime(), time.Now()
	for i := range cycles {
		cycle()
		if (i+1)%500 == 0 {
			logf("churn %s: %d cycles, %d goroutines", name, i+1, runtime.NumGoroutine())
		}
	}
	el, cpu := time.Since(t0), cpuTime()-cpu0
	waitFor(10*time.Second, func() bool { return runtime.NumGoroutine() <= m0.goroutines })
	m1 := snapMem()
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	r := churnResult{
		g0: m0.goroutines, g1: m1.goroutines, leaked: float64(m1.goroutines - m0.goroutines),
		rssDrift:  100 * (float64(m1.rss) - float64(m0.rss)) / float64(m0.rss),
		heapDrift: (float64(m1.heap) - float64(m0.heap)) / 1024,
		rss0:      mib(m0.rss), rss1: mib(m1.rss), heap0: mib(m0.heap), heap1: mib(m1.heap),
		rate: float64(cycles) / el.Seconds(), cpu: us(cpu) / float64(cycles),
	}
	logf("churn %s: %.0f cycles/s; goroutines %d → %d; RSS %.1f → %.1f MiB", name, r.rate, r.g0, r.g1, r.rss0, r.rss1)
	if r.leaked > 0 { // evidence: the goroutines still running
		p := filepath.Join(os.TempDir(), "dnodebench-churn-goroutines.txt")
		if f, err := os.Create(p); err == nil {
			_ = pprof.Lookup("goroutine").WriteTo(f, 1)
			f.Close()
			logf("churn %s: goroutine dump in %s", name, p)
		}
	}
	return r
}
