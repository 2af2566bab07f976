//go:build !race

package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dnode-p2p/dnode/relay"
)

// TestCatchUpAfterStop: on a simulated network of 20 nodes, one node is
// stopped for 30 s (simulated) while the others publish 100 messages;
// after its restart it reconnects from its hostlist and gets all 100,
// each once, from the digests of its new channels, within 2 s
// (simulated) of its first relay link.
func TestCatchUpAfterStop(t *testing.T) {
	cfg := config{seeds: 1, nodes: 20, outbound: 4, inbound: 32, latency: 10 * time.Millisecond, bandwidth: 20_000_000, transport: simTransport(t)}
	synctest.Test(t, func(t *testing.T) {
		nw := startNetwork(t, cfg)
		if !waitFor(10*time.Minute, 500*time.Millisecond, func() bool { full, _ := nw.filled(); return full == cfg.nodes }) {
			t.Fatal("slots did not fill")
		}
		away := nw.nodes[0]
		if err := away.node.Stop(); err != nil {
			t.Fatal(err)
		}
		stopped := time.Now()
		var missed []relay.ID
		for k := range 100 {
			from := 1 + rand.IntN(cfg.nodes-1)
			m, err := nw.nodes[from].chat.Send(fmt.Sprintf("while node 0 was away %d", k))
			if err != nil {
				t.Fatal(err)
			}
			id, _ := relay.ParseID(m.ID)
			missed = append(missed, id)
			time.Sleep(250 * time.Millisecond) // the publishing rate
		}
		time.Sleep(30*time.Second - time.Since(stopped))
		if err := away.node.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !waitFor(time.Minute, time.Millisecond, func() bool { return away.relay.Stats().Links > 0 }) {
			t.Fatal("the restarted node got no relay link")
		}
		back := time.Now()
		all := func() bool {
			for _, id := range missed {
				if c, _ := away.delivered(id); c == 0 {
					return false
				}
			}
			return true
		}
		if !waitFor(time.Minute, time.Millisecond, all) {
			t.Fatal("the restarted node did not catch up within a simulated minute")
		}
		took := time.Since(back)
		time.Sleep(5 * time.Second) // copies in flight arrive (simulated time)
		for k, id := range missed {
			if c, _ := away.delivered(id); c != 1 {
				t.Errorf("message %d delivered %d times", k, c)
			}
		}
		st := away.relay.Stats()
		t.Logf("away %s (simulated); caught up all %d messages %s after its first relay link; caught_up %d, duplicates %d, links %d",
			time.Since(stopped).Round(time.Second), len(missed), took.Round(time.Millisecond), st.CaughtUp, st.Duplicates, st.Links)
		if took > 2*time.Second {
			t.Errorf("catch-up took %s (simulated), want within 2 s", took)
		}
	})
}
