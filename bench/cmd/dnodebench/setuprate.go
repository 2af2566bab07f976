package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/seed"
)

// benchSetupRate measures setups per second at concurrency 16 on a seed:
// a seed (seed.Seed serving the bench network) accepts n inbound channels
// from n plain go-libp2p hosts in a child process (childproc.go) that dial
// 16 at a time, each completing dnode's version handshake; the rate is n
// over the child's wall time from the first dial to the last handshake.
// Baseline: a bare go-libp2p host accepting n connect+identify from
// another child at concurrency 16, in the same round. CPU per setup is
// given for the listener alone (this process, over the same window) and
// for both sides (listener plus the child's dialers). libp2p exempts
// loopback from its per-IP connection limits, so the seed's own host
// (built without dnode.WithPerIPLimit) admits them all.
func benchSetupRate(rounds, n int) ([]row, []string) {
	const conc = 16
	var dRate, bRate, dCPU, bCPU, dBoth, bBoth agg
	errs := 0
	for r := range rounds {
		// dnode seed node
		s := nodeSettings(tempDir())
		s.Seed.InboundConnections = 4 * n
		sd, err := seed.New(s, slog.DiscardHandler)
		must(err)
		must(sd.Start(context.Background()))
		d := sd.Node(benchNetwork)
		child := startDialChild("dnode", addrOf(sd.Host()), n, conc)
		cpu0 := cpuTime()
		wall, e, ccpu := child.dial()
		if !waitFor(10*time.Second, func() bool { return len(d.Channels()) >= n-e }) {
			logf("setuprate: the node holds %d channels of %d", len(d.Channels()), n-e)
		}
		lcpu := cpuTime() - cpu0
		errs += e
		dRate = append(dRate, float64(n-e)/wall.Seconds())
		dCPU = append(dCPU, us(lcpu)/float64(n))
		dBoth = append(dBoth, us(lcpu+ccpu)/float64(n))
		child.close()
		_ = sd.Stop()

		// bare libp2p
		h := newBareHost()
		child = startDialChild("bare", addrOf(h), n, conc)
		cpu0 = cpuTime()
		wall, e, ccpu = child.dial()
		waitFor(10*time.Second, func() bool { return len(h.Network().Conns()) >= n-e })
		lcpu = cpuTime() - cpu0
		errs += e
		bRate = append(bRate, float64(n-e)/wall.Seconds())
		bCPU = append(bCPU, us(lcpu)/float64(n))
		bBoth = append(bBoth, us(lcpu+ccpu)/float64(n))
		child.close()
		h.Close()
		logf("setuprate round %d: dnode %.0f/s, bare libp2p %.0f/s", r+1, dRate[r], bRate[r])
	}
	base := "bare libp2p host, connect+identify, concurrency 16"
	rows := []row{
		{bench: fmt.Sprintf("setup rate on a seed, %d inbound at concurrency 16", n), unit: "setups/s", dnode: dRate, base: bRate, baseName: base, target: "≥ 0.8×", targetRatio: 0.8},
		{bench: "setup CPU per inbound setup, listener only", unit: "µs/setup", dnode: dCPU, base: bCPU, baseName: base, lowerBetter: true},
		{bench: "setup CPU per setup, listener + dialers", unit: "µs/setup", dnode: dBoth, base: bBoth, baseName: base, lowerBetter: true},
	}
	notes := []string{fmt.Sprintf("setup rate: dialers are %d plain go-libp2p hosts in a child process (built before the clock starts), 16 dialing at a time; for dnode each completes the version handshake. The listener is a seed.Seed serving the bench network; failed dials over all rounds: %d.", n, errs)}
	return rows, notes
}

// addrOf returns h's first listen address with /p2p/.
func addrOf(h interface {
	Addrs() []ma.Multiaddr
	ID() peer.ID
}) ma.Multiaddr {
	return h.Addrs()[0].Encapsulate(ma.StringCast("/p2p/" + h.ID().String()))
}
