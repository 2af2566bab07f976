package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/settings"
)

// bootDiscovery is the outbound peer discovery attempt time of the
// bootstrap nodes (devnet's short timer, as netSettings in broadcast.go).
const bootDiscovery = 500 * time.Millisecond

// bootSettings are devnet's node settings (internal/devnet): short
// discovery and refinery timers, out outbound slots.
func bootSettings(dir string, seeds []ma.Multiaddr, out int) settings.Settings {
	s := nodeSettings(dir)
	s.Net.Seeds = seeds
	s.Net.OutboundConnections = out
	s.Net.InboundConnections = 32
	s.Net.OutboundPeerDiscoveryAttemptTime = bootDiscovery
	s.Net.GreylistRefineryInterval = time.Second
	s.Net.HostlistSaveInterval = time.Minute
	return s
}

// benchBootstrap measures cold-start bootstrap: one seed and n dnode nodes
// with out outbound slots and devnet's short timers, all started at once
// (8 Starts at a time), the seed as their only known peer; every 10 ms the
// benchmark reads each node's nodeinternal.OutboundSlots. Per node, the fill time
// is from its Start returning to all its slots holding a channel; the
// network is full when every node was full once. The bound is the issue's
// 3 discovery intervals + 3 setups, with the setup p50 measured in the run
// (quickSetupP50). The curve is the fraction of all outbound slots filled
// against the time since the first Start.
func benchBootstrap(sizes []int, out int) ([]row, []string, []curve) {
	setup := quickSetupP50(30)
	bound := 3*bootDiscovery + 3*setup
	var rows []row
	var notes []string
	fill := curve{File: "bootstrap-fill", Title: fmt.Sprintf("Bootstrap: outbound slots filled after a cold start (%d slots per node)", out),
		XLabel: "seconds since the first node started", YLabel: "fraction of all outbound slots filled"}
	for _, n := range sizes {
		r := bootstrapOnce(n, out)
		fill.Series = append(fill.Series, series{Name: fmt.Sprintf("n = %d", n), X: r.curveX, Y: r.curveY})
		b := agg{bound.Seconds()}
		name := fmt.Sprintf("bootstrap n=%d, %d slots", n, out)
		base := "bound: 3 discovery intervals + 3 setups"
		all := row{bench: name + ": all nodes full, since the last Start", unit: "s", dnode: agg{r.allFull.Seconds()}, base: b, baseName: base}
		if n == 100 {
			all.target, all.targetRatio, all.lowerBetter = "≤ 1.0×", 1, true
		}
		rows = append(rows, all,
			row{bench: name + ": per-node fill time p50", unit: "s", dnode: agg{r.p50.Seconds()}, base: b, baseName: base, lowerBetter: true},
			row{bench: name + ": per-node fill time p99", unit: "s", dnode: agg{r.p99.Seconds()}, base: b, baseName: base, lowerBetter: true},
		)
		notes = append(notes, fmt.Sprintf("bootstrap n=%d: the %d Starts took %s; all full %s after the first Start, %s after the last; %d of %d nodes never had every slot filled within 60 s. Until then, over all nodes: %s.",
			n, n, r.spread.Round(time.Millisecond), r.allFromFirst.Round(time.Millisecond), r.allFull.Round(time.Millisecond), r.notFull, n, r.events))
	}
	notes = append(notes, fmt.Sprintf("bootstrap: bound = 3 × %s (outbound peer discovery attempt time) + 3 × %s (channel setup p50, 30 Node.Connect samples in this run) = %s; refinery interval 1 s, one seed.Seed. A node can only fill once enough others run, so the all-full time is counted from the last Start.",
		bootDiscovery, setup.Round(10*time.Microsecond), bound.Round(time.Millisecond)))
	return rows, notes, []curve{fill}
}

type bootResult struct {
	p50, p99, allFull, allFromFirst, spread time.Duration
	notFull                                 int
	events                                  string // what the nodes did until all were full
	curveX, curveY                          []float64
}

func bootstrapOnce(n, out int) bootResult {
	ctx := context.Background()
	sd, seedAddrs := startSeed(bootSettings(tempDir(), nil, 0))
	defer sd.Stop()

	nodes := make([]*dnode.Node, n)
	for i := range nodes {
		var err error
		nodes[i], err = dnode.New(bootSettings(tempDir(), seedAddrs[:1], out), dnode.WithLogHandler(slog.DiscardHandler), dnode.WithPerIPLimit(100000))
		must(err)
	}
	defer func() {
		var wg sync.WaitGroup
		for _, nd := range nodes {
			wg.Go(func() { _ = nd.Stop() })
		}
		wg.Wait()
	}()

	// Count what the nodes did (events bus): connect attempts, failures,
	// seed syncs, discovery rounds, refinery probes.
	counts := map[string]int{}
	failures := map[string]int{} // failed setups by error
	var cmu sync.Mutex
	var subs sync.WaitGroup
	var closeSubs []func()
	for _, nd := range nodes {
		sub := nd.Events().Subscribe(4096)
		closeSubs = append(closeSubs, sub.Close)
		subs.Go(func() {
			for e := range sub.C() {
				k := string(e.Kind)
				switch e.Kind {
				case events.OutboundPeerDiscovery, events.RefineProbe:
					k += "/" + e.State
				case events.SeedSync:
					if e.Err != "" {
						k += "/failed"
					}
				case events.ChannelFailed:
					cmu.Lock()
					failures[errClass(e.Err)]++
					cmu.Unlock()
				}
				cmu.Lock()
				counts[k]++
				cmu.Unlock()
			}
		})
	}
	defer func() {
		for _, c := range closeSubs {
			c()
		}
		subs.Wait()
	}()

	started := make([]time.Time, n) // zero until Start returned
	var mu sync.Mutex
	t0 := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, nd := range nodes {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			must(nd.Start(ctx))
			mu.Lock()
			started[i] = time.Now()
			mu.Unlock()
		})
	}
	filled := make([]time.Time, n)
	var r bootResult
	lastSample := time.Duration(-1)
	deadline := t0.Add(60 * time.Second)
	for {
		now := time.Now()
		total, full := 0, 0
		mu.Lock()
		for i, nd := range nodes {
			if started[i].IsZero() {
				continue
			}
			k := 0
			for _, id := range nodeinternal.OutboundSlots(nd) {
				if id != 0 {
					k++
				}
			}
			total += k
			if k >= out && filled[i].IsZero() {
				filled[i] = now
			}
			if !filled[i].IsZero() {
				full++
			}
		}
		mu.Unlock()
		if el := now.Sub(t0); el-lastSample >= 50*time.Millisecond || full == n {
			r.curveX = append(r.curveX, el.Seconds())
			r.curveY = append(r.curveY, float64(total)/float64(n*out))
			lastSample = el
		}
		if full == n || now.After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	var ds []time.Duration
	var first, last, lastFill time.Time
	for i := range nodes {
		if first.IsZero() || started[i].Before(first) {
			first = started[i]
		}
		if started[i].After(last) {
			last = started[i]
		}
		if filled[i].IsZero() {
			r.notFull++
			continue
		}
		ds = append(ds, filled[i].Sub(started[i]))
		if filled[i].After(lastFill) {
			lastFill = filled[i]
		}
	}
	r.p50, r.p99 = pct(ds, 50), pct(ds, 99)
	r.spread = last.Sub(t0)
	r.allFromFirst, r.allFull = lastFill.Sub(t0), lastFill.Sub(last)
	if r.notFull > 0 {
		r.allFull, r.allFromFirst = 60*time.Second, 60*time.Second
	}
	cmu.Lock()
	r.events = fmt.Sprintf("outbound connect attempts %d, channel setups failed %d, seed syncs %d (%d failed), discovery rounds asking peers %d and seeds %d, refinery probes passed %d / failed %d",
		counts[string(events.OutboundSlotConnecting)], counts[string(events.ChannelFailed)], counts[string(events.SeedSync)]+counts[string(events.SeedSync)+"/failed"],
		counts[string(events.SeedSync)+"/failed"], counts[string(events.OutboundPeerDiscovery)+"/getaddr"], counts[string(events.OutboundPeerDiscovery)+"/seed"],
		counts[string(events.RefineProbe)+"/pass"], counts[string(events.RefineProbe)+"/fail"])
	if len(failures) > 0 {
		r.events += "; failed setups by error: " + topCounts(failures, 3)
	}
	cmu.Unlock()
	logf("bootstrap n=%d: per-node p50 %s p99 %s; all full %s after the last Start (%d not full)", n,
		r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.allFull.Round(time.Millisecond), r.notFull)
	return r
}

// quickSetupP50 is the p50 of samples Node.Connect calls between two
// fresh nodes, each channel stopped and gone before the next.
func quickSetupP50(samples int) time.Duration {
	ctx := context.Background()
	a := newNode(nodeSettings(tempDir()), nil)
	b := newNode(nodeSettings(tempDir()), nil)
	defer a.Stop()
	defer b.Stop()
	var ds []time.Duration
	gone := func() bool {
		return len(b.Channels()) == 0 && len(a.Channels()) == 0 &&
			nodeinternal.Host(a).Network().Connectedness(b.ID()) != network.Connected &&
			nodeinternal.Host(b).Network().Connectedness(a.ID()) != network.Connected
	}
	for range samples {
		t0 := time.Now()
		ch, err := a.Connect(ctx, b.Addrs()[0], channel.Manual)
		if err != nil { // not a sample; logged, and the loop goes on
			logf("bootstrap: setup sample failed: %v", err)
			waitFor(5*time.Second, gone)
			continue
		}
		ds = append(ds, time.Since(t0))
		ch.Stop(nil)
		<-ch.Done()
		if !waitFor(2*time.Second, gone) {
			for _, c := range b.Channels() { // see docs/benchmarks.md, Findings
				c.Stop(nil)
			}
			waitFor(5*time.Second, gone)
		}
	}
	return pct(ds, 50)
}

// errClass shortens an error message to its kind: the text before the
// first peer ID or address, at most 70 characters.
func errClass(e string) string {
	for _, cut := range []string{"12D3Koo", "/ip4/", "127.0.0.1"} {
		if i := strings.Index(e, cut); i >= 0 {
			e = e[:i]
		}
	}
	if len(e) > 70 {
		e = e[:70]
	}
	return strings.TrimSpace(e)
}

// topCounts formats the k largest counts of m as "key" n, ....
func topCounts(m map[string]int, k int) string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	slices.SortFunc(keys, func(a, b string) int { return m[b] - m[a] })
	var parts []string
	for _, key := range keys[:min(k, len(keys))] {
		parts = append(parts, fmt.Sprintf("%q %d", key, m[key]))
	}
	return strings.Join(parts, ", ")
}
