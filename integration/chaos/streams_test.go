package chaos

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// TestDaemonStreamFlood: one channel's connection opens streams for every
// dnode protocol and an unknown one, 64 at a time, each left open. A
// second incoming stream of a protocol is reset by the channel, the
// unknown protocol fails negotiation, and yamux and the resource manager
// bound the streams of one connection. Opening streams is no violation:
// nobody is banned, and the daemon's goroutines come back once the
// attacker leaves.
func TestDaemonStreamFlood(t *testing.T) {
	fullOnly(t)
	sz := sizes()
	runAttack(t, "stream-flood", daemonConfig{inbound: 64}, func(t *testing.T, d *daemon) string {
		w := newWirePeer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		ai := d.AddrInfo()
		if err := w.handshake(ctx, ai, pingID, addrID, relayID); err != nil {
			t.Fatal(err)
		}
		ids := []protocol.ID{pingID, addrID, relayID, versionID, "/dnode/" + netID + "/nothing/1.0.0"}
		var (
			mu      sync.Mutex
			streams []network.Stream
			opened  atomic.Int64
			refused atomic.Int64
			wg      sync.WaitGroup
		)
		sem := make(chan struct{}, 64)
		start := time.Now()
		for i := range sz.streams {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
				defer scancel()
				s, err := w.h.NewStream(sctx, ai.ID, ids[i%len(ids)])
				if err != nil {
					refused.Add(1)
					return
				}
				opened.Add(1)
				mu.Lock()
				streams = append(streams, s)
				mu.Unlock()
			}()
		}
		wg.Wait()
		took := time.Since(start)
		for _, s := range streams {
			_ = s.Reset()
		}
		w.close() // the attacker leaves
		return fmt.Sprintf("%d streams in %s: %d negotiated, %d refused", sz.streams, took.Round(time.Millisecond), opened.Load(), refused.Load())
	}, func(t *testing.T, r report) {
		if r.bans != 0 {
			t.Errorf("stream flood: %d bans, want none", r.bans)
		}
	})
}
