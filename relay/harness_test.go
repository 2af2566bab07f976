package relay

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/settings"
)

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }

// tnode is one loopback node with its relay and a subscription to the
// test topic that records every delivery.
type tnode struct {
	node  *dnode.Node
	relay *Relay
	topic *Topic
	sub   *Subscription

	mu   sync.Mutex
	got  map[ID]int    // deliveries per id (not our own)
	last map[ID][]byte // the data of each delivered message
	wg   sync.WaitGroup
	stop context.CancelFunc
}

const testTopic = "test"

// nodeSettings returns loopback settings without outbound slots: the
// tests make channels themselves.
func nodeSettings(t testing.TB) settings.Settings {
	s := testnet.Settings(t)
	s.Net.OutboundConnections = 0
	s.Net.InboundConnections = 64
	return s
}

// newTNode builds and starts a node with a relay of cfg; edit, if not
// nil, changes its settings first.
func newTNode(t testing.TB, cfg Config, name string, edit ...func(*settings.Settings)) *tnode {
	t.Helper()
	s := nodeSettings(t)
	for _, f := range edit {
		f(&s)
	}
	n, err := dnode.New(s, dnode.WithLogHandler(testnet.LogHandler(t), "node", name))
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(n, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := r.Join(testTopic)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tp.Subscribe(WithBufferSize(4096))
	if err != nil {
		t.Fatal(err)
	}
	tn := &tnode{node: n, relay: r, topic: tp, sub: sub, got: map[ID]int{}, last: map[ID][]byte{}}
	ctx, cancel := context.WithCancel(context.Background())
	tn.stop = cancel
	tn.wg.Add(1)
	go func() {
		defer tn.wg.Done()
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				return
			}
			if !m.Local {
				tn.mu.Lock()
				tn.got[m.ID]++
				tn.last[m.ID] = m.Data
				tn.mu.Unlock()
			}
		}
	}()
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tn.close)
	return tn
}

func (tn *tnode) close() {
	tn.relay.Close()
	tn.stop()
	tn.wg.Wait()
	_ = tn.node.Stop()
}

func (tn *tnode) data(id ID) []byte {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.last[id]
}

func (tn *tnode) count(id ID) int {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.got[id]
}

// connect opens a manual channel from a to b and waits until both run
// the relay on it.
func connect(t testing.TB, a, b *tnode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.node.Connect(ctx, b.node.Addrs()[0], channel.Manual); err != nil {
		t.Fatalf("connect: %v", err)
	}
}

// waitLinks waits until every node has want[i] relay links.
func waitLinks(t testing.TB, nodes []*tnode, want []int) {
	t.Helper()
	testnet.Eventually(t, 20*time.Second, func() error {
		for i, n := range nodes {
			if got := n.relay.Stats().Links; got != want[i] {
				return fmt.Errorf("node %d has %d relay links, want %d", i, got, want[i])
			}
		}
		return nil
	})
}

// randomGraph connects n nodes so that each dials k distinct random
// others (seeded), as the benchmark topology; it returns the degrees.
func randomGraph(t testing.TB, nodes []*tnode, k int, seed uint64) []int {
	t.Helper()
	rng := newRand(seed)
	deg := make([]int, len(nodes))
	edges := map[[2]int]bool{}
	for i := range nodes {
		for c := 0; c < k; {
			j := rng.IntN(len(nodes))
			if j == i {
				continue
			}
			c++
			e := [2]int{min(i, j), max(i, j)}
			if edges[e] {
				continue
			}
			edges[e] = true
			deg[i]++
			deg[j]++
			connect(t, nodes[i], nodes[j])
		}
	}
	return deg
}

// quiet waits until nothing relay is in flight among nodes: no fetch
// pending, no announcement batched, no frame queued on any channel, and
// the relay byte counters unchanged over three polls 50 ms apart (frames
// written to loopback arrive well within that).
func quiet(t testing.TB, nodes []*tnode) {
	t.Helper()
	var last [2]uint64
	stable := 0
	testnet.Eventually(t, 30*time.Second, func() error {
		var now [2]uint64
		for _, nd := range nodes {
			r := nd.relay
			r.mu.Lock()
			busy := len(r.eng.fetches)
			for _, l := range r.eng.links {
				busy += len(l.pending)
			}
			now[0] += r.eng.stats.bytesSent
			now[1] += r.eng.stats.bytesReceived
			r.mu.Unlock()
			for _, ch := range nd.node.Channels() {
				if f, _ := ch.Queued(); f > 0 {
					busy++
				}
			}
			if busy > 0 {
				stable = 0
				return fmt.Errorf("relay busy: %d fetches, batched announcements or queued frames", busy)
			}
		}
		if now != last {
			last, stable = now, 0
			return fmt.Errorf("relay bytes still moving")
		}
		if stable++; stable < 3 {
			time.Sleep(50 * time.Millisecond) // the gap between polls that must see no traffic
			return fmt.Errorf("relay quiet for %d polls", stable)
		}
		return nil
	})
}
