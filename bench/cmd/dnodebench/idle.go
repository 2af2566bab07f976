package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/protocols/version"
)

// benchIdle: one dnode node accepts n inbound channels from n plain
// go-libp2p hosts that complete dnode's version handshake (like
// integration/libp2p_test.go's handshakeAsPlainHost); against one bare
// go-libp2p host accepting n connections (with identify) from the same
// hosts. Both figures include the dialing hosts' side of each connection,
// which is the same plain host in both cases.
func benchIdle(n int) ([]row, []string) {
	ctx := context.Background()
	m0 := snapMem()
	d := newNode(nodeSettings(tempDir()), nil)
	mNode := snapMem()
	bare := newBareHost()
	mBare := snapMem()
	defer bare.Close()
	// Two sets of dialing hosts, so neither phase reuses memory the other
	// freed: set 0 dials the bare host first, then set 1 dials dnode while
	// set 0's connections stay open.
	sets := [2][]host.Host{make([]host.Host, n), make([]host.Host, n)}
	for k := range sets {
		for i := range sets[k] {
			sets[k][i] = newBareHost()
		}
	}
	defer func() {
		for _, hs := range sets {
			for _, h := range hs {
				h.Close()
			}
		}
	}()
	dAddr := d.Addrs()[0]
	local := version.Local{AppName: "dnode", AppVersion: dnode.Version}

	parallel := func(hosts []host.Host, f func(h host.Host) error) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for _, h := range hosts {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := f(h); err != nil {
					logf("idle: %v", err)
				}
			})
		}
		wg.Wait()
	}

	m1 := snapMem()
	bai := addrInfo(bare)
	parallel(sets[0], func(h host.Host) error { return h.Connect(ctx, bai) })
	waitFor(10*time.Second, func() bool { return len(bare.Network().Conns()) == n })
	time.Sleep(time.Second)
	m2 := snapMem()
	logf("idle: bare host holds %d connections", len(bare.Network().Conns()))

	m3 := snapMem()
	parallel(sets[1], func(h host.Host) error {
		ai := addrInfoOf(dAddr)
		if err := h.Connect(ctx, ai); err != nil {
			return err
		}
		s, err := h.NewStream(ctx, ai.ID, version.ID(benchNetwork))
		if err != nil {
			return err
		}
		defer s.Close()
		_, err = version.Exchange(ctx, s, s, local, nil, 5*time.Second, time.Now())
		return err
	})
	ok := waitFor(10*time.Second, func() bool { return len(d.Channels()) == n })
	time.Sleep(time.Second)
	chans := len(d.Channels())
	m4 := snapMem()
	logf("idle: dnode holds %d channels (all: %v); %d goroutines", chans, ok, m4.goroutines)

	parallel(sets[1], func(h host.Host) error { return h.Network().ClosePeer(d.ID()) })
	waitFor(10*time.Second, func() bool { return len(d.Channels()) == 0 })
	time.Sleep(2 * time.Second)
	m5 := snapMem()
	_ = d.Stop()

	per := func(a, b memSnap) (rss, heap, stack, g float64) {
		k := float64(chans)
		return (float64(b.rss) - float64(a.rss)) / 1024 / k, (float64(b.heap) - float64(a.heap)) / 1024 / k,
			(float64(b.stack) - float64(a.stack)) / 1024 / k, float64(b.goroutines-a.goroutines) / k
	}
	br, bh, bs, bg := per(m1, m2)
	dr, dh, ds, dg := per(m3, m4)
	rows := []row{
		{bench: fmt.Sprintf("idle channel heap, %d channels (both ends)", n), unit: "KiB/channel", dnode: agg{dh}, base: agg{bh}, baseName: "bare libp2p conn + identify", lowerBetter: true},
		{bench: "idle channel goroutines (both ends)", unit: "per channel", dnode: agg{dg}, base: agg{bg}, baseName: "bare libp2p conn + identify", lowerBetter: true},
		{bench: "idle channel stack (both ends)", unit: "KiB/channel", dnode: agg{ds}, base: agg{bs}, baseName: "bare libp2p conn + identify", lowerBetter: true},
		{bench: "idle channel RSS (both ends)", unit: "KiB/channel", dnode: agg{dr}, base: agg{br}, baseName: "bare libp2p conn + identify", lowerBetter: true},
		{bench: "idle node (no channels) heap", unit: "KiB", dnode: agg{float64(mNode.heap-m0.heap) / 1024}, base: agg{(float64(mBare.heap) - float64(mNode.heap)) / 1024}, baseName: "bare libp2p host", lowerBetter: true},
		{bench: "idle node (no channels) goroutines", unit: "count", dnode: agg{float64(mNode.goroutines - m0.goroutines)}, base: agg{float64(mBare.goroutines - mNode.goroutines)}, baseName: "bare libp2p host", lowerBetter: true},
	}
	notes := []string{
		fmt.Sprintf("idle channels: dnode extra over bare libp2p per channel (both ends measured, dialers identical): heap %+.1f KiB, stack %+.1f KiB, %+.2f goroutines; the issue's target (≤ 64 KiB and ≤ 6 goroutines per channel, listener side) cannot be read off a one-process run directly: bare libp2p's own both-ends cost is %.1f KiB heap + %.1f KiB stack and %.1f goroutines. After the dialers closed all dnode connections (2 s later), relative to before they opened: heap %+.0f KiB, %+d goroutines.",
			dh-bh, ds-bs, dg-bg, bh, bs, bg, (float64(m5.heap)-float64(m3.heap))/1024, m5.goroutines-m3.goroutines),
	}
	return rows, notes
}
