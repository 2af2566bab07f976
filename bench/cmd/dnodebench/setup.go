package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
)

// benchSetup measures channel setup: dnode Node.Connect (dial, noise,
// yamux, identify as libp2p does it, dnode's version handshake) against
// bare go-libp2p host.Connect (dial plus identify) and raw TCP connect.
// Every sample is a fresh connection; the previous one is torn down
// (untimed) before the next starts.
func benchSetup(rounds, conns int) []row {
	ctx := context.Background()
	a := newNode(nodeSettings(tempDir()), nil)
	b := newNode(nodeSettings(tempDir()), nil)
	defer a.Stop()
	defer b.Stop()
	bAddr := b.Addrs()[0]

	h1, h2 := newBareHost(), newBareHost()
	defer h1.Close()
	defer h2.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	zombies := 0
	var dP50, dP99, dCPU, lP50, lP99, lCPU, tP50, tCPU agg
	for r := range rounds {
		// dnode
		var ds []time.Duration
		cpu0 := cpuTime()
		for range conns {
			t0 := time.Now()
			ch, err := a.Connect(ctx, bAddr, channel.Manual)
			ds = append(ds, time.Since(t0))
			must(err)
			ch.Stop(nil)
			<-ch.Done()
			gone := func() bool {
				return len(b.Channels()) == 0 && len(a.Channels()) == 0 &&
					nodeinternal.Host(a).Network().Connectedness(b.ID()) != network.Connected &&
					nodeinternal.Host(b).Network().Connectedness(a.ID()) != network.Connected
			}
			if !waitFor(2*time.Second, gone) {
				// See docs/benchmarks.md: the responder sometimes keeps a
				// channel whose connection is already closed. Count it and
				// stop it by hand so the next sample can connect.
				zombies++
				for _, c := range b.Channels() {
					stopped := "no"
					select {
					case <-c.Done():
						stopped = "yes (Done closed)"
					default:
					}
					logf("setup: zombie responder channel: session %s, err %v, already stopped: %s", c.Session(), c.Err(), stopped)
				}
				for _, c := range b.Channels() {
					c.Stop(nil)
				}
				waitFor(5*time.Second, gone)
			}
		}
		dCPU = append(dCPU, float64(cpuTime()-cpu0)/float64(conns)/1e3)
		dP50 = append(dP50, us(pct(ds, 50)))
		dP99 = append(dP99, us(pct(ds, 99)))

		// bare libp2p
		ds = ds[:0]
		cpu0 = cpuTime()
		ai := addrInfo(h2)
		for range conns {
			t0 := time.Now()
			must(h1.Connect(ctx, ai))
			ds = append(ds, time.Since(t0))
			_ = h1.Network().ClosePeer(h2.ID())
			waitFor(5*time.Second, func() bool {
				return h2.Network().Connectedness(h1.ID()) != network.Connected
			})
		}
		lCPU = append(lCPU, float64(cpuTime()-cpu0)/float64(conns)/1e3)
		lP50 = append(lP50, us(pct(ds, 50)))
		lP99 = append(lP99, us(pct(ds, 99)))

		// raw TCP
		ds = ds[:0]
		cpu0 = cpuTime()
		for range conns {
			t0 := time.Now()
			c, err := net.Dial("tcp", ln.Addr().String())
			ds = append(ds, time.Since(t0))
			must(err)
			c.Close()
		}
		tCPU = append(tCPU, float64(cpuTime()-cpu0)/float64(conns)/1e3)
		tP50 = append(tP50, us(pct(ds, 50)))
		logf("setup round %d: dnode p50 %.0f µs, libp2p p50 %.0f µs, tcp p50 %.1f µs", r+1, dP50[r], lP50[r], tP50[r])
	}
	if zombies > 0 {
		logf("setup: %d of %d responder channels outlived their closed connection by > 2 s", zombies, rounds*conns)
	}
	setupZombies = fmt.Sprintf("%d of %d", zombies, rounds*conns)
	return []row{
		{bench: "channel setup p50", unit: "µs", dnode: dP50, base: lP50, baseName: "bare libp2p connect+identify", target: "≤ 1.3×", targetRatio: 1.3, lowerBetter: true},
		{bench: "channel setup p50", unit: "µs", dnode: dP50, base: tP50, baseName: "raw TCP connect", lowerBetter: true},
		{bench: "channel setup p99", unit: "µs", dnode: dP99, base: lP99, baseName: "bare libp2p connect+identify", lowerBetter: true},
		{bench: "channel setup CPU (incl. teardown)", unit: "µs/setup", dnode: dCPU, base: lCPU, baseName: "bare libp2p connect+identify", lowerBetter: true},
		{bench: "channel setup CPU (incl. teardown)", unit: "µs/setup", dnode: dCPU, base: tCPU, baseName: "raw TCP connect", lowerBetter: true},
	}
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// setupZombies reports responder channels that outlived their connection.
var setupZombies string
