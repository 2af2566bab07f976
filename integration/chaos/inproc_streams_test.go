package chaos_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/relay"
)

// One attacker with a channel opens many streams on its connection, on
// every dnode protocol (a second version stream, second ping, addr and
// relay streams) and on one the victim does not run, and keeps them open:
// the victim resets them (libp2p's per-peer stream limit refuses most),
// holds only the channel's own streams, keeps no goroutine per stream,
// and the honest prober keeps answering. Opening streams is not a
// violation, so no ban is due; the attacker's channel stays up.
func TestInProcessStreamFlood(t *testing.T) {
	sz := sizes()
	v := startVictim(t, victimSettings(t, 8), relay.Config{})
	p := newProber(t, v.node)
	// The attacker is a second prober: it answers the victim's pings, so
	// that its channel stays up unless the victim drops it.
	a := newProber(t, v.node)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := startMeter(t)
	// Each stream carries one valid frame of its protocol, which forces
	// the (lazy) protocol negotiation and is no violation. The prober's own
	// ping stream is open already: a second one is reset unread.
	tgs := append(targets(), target{id: "/dnode/test/nope/1.0.0", valid: targets()[1].valid})
	var (
		opened, refused atomic.Int64
		mu              sync.Mutex
		held            []network.Stream
	)
	st := p.during(func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for i := range sz.streams {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				tg := tgs[i%len(tgs)]
				s, err := a.h.NewStream(ctx, v.node.ID(), tg.id)
				if err != nil {
					refused.Add(1)
					return
				}
				_ = s.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := s.Write(frameOf(tg.valid)); err != nil {
					refused.Add(1)
					s.Reset()
					return
				}
				opened.Add(1)
				mu.Lock()
				held = append(held, s)
				mu.Unlock()
			})
		}
		wg.Wait()
		// While the attacker still holds every stream it got, the victim
		// holds only a few streams of its connection.
		eventually(t, 15*time.Second, func() error {
			n := 0
			for _, c := range nodeinternal.Host(v.node).Network().ConnsToPeer(a.h.ID()) {
				n += len(c.GetStreams())
			}
			if n > 16 {
				return fmt.Errorf("the victim holds %d streams of the attacker", n)
			}
			return nil
		})
	})
	p.check(t, st)
	victimStreams := 0
	for _, c := range nodeinternal.Host(v.node).Network().ConnsToPeer(a.h.ID()) {
		victimStreams += len(c.GetStreams())
	}
	if nodeinternal.Host(v.node).Gater.Banned(a.h.ID(), nil) || !hasChannel(v.node, a.h.ID()) {
		t.Errorf("the attacker lost its channel (banned: %v) for opening streams, which is no violation",
			nodeinternal.Host(v.node).Gater.Banned(a.h.ID(), nil))
	}
	mu.Lock()
	for _, s := range held {
		s.Reset()
	}
	mu.Unlock()
	a.close()
	p.close()
	back := m.settle(t, sz.recover)
	m.report(t, fmt.Sprintf("stream flood (%d streams on one connection)", sz.streams), back, st,
		fmt.Sprintf("; %d streams negotiated by the attacker, %d refused; the victim held %d of them at the end",
			opened.Load(), refused.Load(), victimStreams))
}
