package dchat

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/protocols/version"
)

// collector counts, per message id, how often a node's subscription
// delivered it.
type collector struct {
	sub  *Subscription
	done chan struct{}

	mu     sync.Mutex
	counts map[string]int
	msgs   map[string]Message
}

func collect(t *testing.T, c *Chat) *collector {
	col := &collector{sub: c.Subscribe(1000), done: make(chan struct{}), counts: map[string]int{}, msgs: map[string]Message{}}
	go func() {
		defer close(col.done)
		for m := range col.sub.C() {
			col.mu.Lock()
			col.counts[m.ID]++
			col.msgs[m.ID] = m
			col.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		col.sub.Close()
		<-col.done
	})
	return col
}

func (col *collector) snapshot() (map[string]int, map[string]Message) {
	col.mu.Lock()
	defer col.mu.Unlock()
	counts := make(map[string]int, len(col.counts))
	msgs := make(map[string]Message, len(col.msgs))
	for k, v := range col.counts {
		counts[k] = v
		msgs[k] = col.msgs[k]
	}
	return counts, msgs
}

// topology builds n nodes where node i has node i-1 as manual peer and,
// if ring, node 0 has node n-1; it starts them and waits until every
// node has its channels.
func topology(t *testing.T, n int, ring bool, cfg Config) []*testNode {
	t.Helper()
	nodes := make([]*testNode, n)
	for i := range n {
		nodes[i] = prepareNode(t, fmt.Sprintf("n%d", i), cfg)
	}
	for i, tn := range nodes {
		switch {
		case i > 0:
			tn.build(t, nodes[i-1].addr)
		case ring:
			tn.build(t, nodes[n-1].addr)
		default:
			tn.build(t)
		}
	}
	for _, tn := range nodes {
		tn.start(t)
	}
	eventually(t, 20*time.Second, func() error {
		for i, tn := range nodes {
			want := 2
			if !ring && (i == 0 || i == n-1) {
				want = 1
			}
			if got := chatChannels(tn.node); got != want {
				return errorf("%s has %d channels, want %d", tn.name, got, want)
			}
		}
		return nil
	})
	return nodes
}

// exactOnce runs the exact-once scenario on a topology: every node sends
// one message and must deliver every other node's message exactly once
// and never its own.
func exactOnce(t *testing.T, nodes []*testNode, wantDup, wantRelayed uint64) {
	n := len(nodes)
	cols := make([]*collector, n)
	for i, tn := range nodes {
		cols[i] = collect(t, tn.chat)
	}
	ids := make([]string, n)
	for i, tn := range nodes {
		m, err := tn.chat.Send(fmt.Sprintf("hello from %s", tn.name))
		if err != nil {
			t.Fatalf("%s: send: %v", tn.name, err)
		}
		if m.Hops != 0 || m.Sender != tn.node.ID() || len(m.ID) != 32 {
			t.Fatalf("%s: sent %+v", tn.name, m)
		}
		ids[i] = m.ID
	}
	// Wait for every delivery, then for the duplicates the topology
	// produces, so that any late second delivery would be seen.
	eventually(t, 20*time.Second, func() error {
		var dups uint64
		for i, col := range cols {
			counts, _ := col.snapshot()
			if len(counts) != n-1 {
				return errorf("%s delivered %d messages, want %d", nodes[i].name, len(counts), n-1)
			}
			dups += nodes[i].chat.Stats().Duplicates
		}
		if dups != wantDup {
			return errorf("%d duplicates, want %d", dups, wantDup)
		}
		return nil
	})
	var relayed, sent, arrived uint64
	for i, col := range cols {
		tn := nodes[i]
		counts, msgs := col.snapshot()
		for j, id := range ids {
			want := 1
			if j == i {
				want = 0
			}
			if counts[id] != want {
				t.Errorf("%s delivered %s's message %d times, want %d", tn.name, nodes[j].name, counts[id], want)
			}
			if m, ok := msgs[id]; ok && (m.Sender != nodes[j].node.ID() || m.Text != "hello from "+nodes[j].name) {
				t.Errorf("%s got %+v from %s", tn.name, m, nodes[j].name)
			}
		}
		st := tn.chat.Stats()
		if st.Delivered != uint64(n-1) || st.Expired != 0 || st.Rejected != 0 {
			t.Errorf("%s: stats %+v", tn.name, st)
		}
		relayed += st.Relayed
		sent += st.Sent
		arrived += st.Delivered + st.Duplicates + st.Expired + st.Rejected
		if d := col.sub.Dropped(); d != 0 {
			t.Errorf("%s: subscription dropped %d", tn.name, d)
		}
		// The buffer holds our message and the others'.
		if got := tn.chat.Recv(0); len(got) != n {
			t.Errorf("%s: buffer holds %d messages, want %d", tn.name, len(got), n)
		}
	}
	if relayed != wantRelayed {
		t.Errorf("%d relays, want %d", relayed, wantRelayed)
	}
	// Every copy sent arrived somewhere, once.
	if sent != arrived {
		t.Errorf("%d copies sent, %d arrived", sent, arrived)
	}
}

// In a line of 10 nodes each message travels each link once: no
// duplicates; every node but the ends relays every message it did not
// write.
func TestExactOnceLine(t *testing.T) {
	const n = 10
	nodes := topology(t, n, false, Config{})
	// Relays: ends have no other channel; a message from an end is relayed
	// by the 8 inner nodes, one from an inner node by the other 7.
	exactOnce(t, nodes, 0, 2*8+8*7)
	// Hop counts: node 0 gets node 9's message after 8 relays.
	for _, m := range nodes[0].chat.Recv(0) {
		if m.Sender == nodes[9].node.ID() && m.Hops != 8 {
			t.Errorf("n0 got n9's message with hops %d, want 8", m.Hops)
		}
	}
}

// In a ring of 10 nodes each message goes both ways: 2 sends by its
// writer and one relay by each of the 9 others make 11 receptions, so 9
// deliveries and 2 duplicates per message.
func TestExactOnceRing(t *testing.T) {
	const n = 10
	nodes := topology(t, n, true, Config{})
	exactOnce(t, nodes, 2*n, 9*n)
}

// The hop limit bounds relaying: with MaxHops 2 a message reaches 2 hops
// down a line (hops 0 and 1), and no further.
func TestHopLimitInNetwork(t *testing.T) {
	nodes := topology(t, 4, false, Config{MaxHops: 2})
	col3 := collect(t, nodes[3].chat)
	col2 := collect(t, nodes[2].chat)
	if _, err := nodes[0].chat.Send("short range"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if counts, _ := col2.snapshot(); len(counts) != 1 {
			return errorf("n2 has not delivered")
		}
		return nil
	})
	if got := nodes[2].chat.Recv(0); len(got) != 1 || got[0].Hops != 1 {
		t.Fatalf("n2 buffer %+v", got)
	}
	if st := nodes[2].chat.Stats(); st.Relayed != 0 {
		t.Errorf("n2 relayed at the hop limit: %+v", st)
	}
	// A message sent by n3 reaches n2 and n1: proof that n3 is connected,
	// so n0's message would have arrived by now if relayed.
	if _, err := nodes[3].chat.Send("back"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if nodes[1].chat.Stats().Delivered != 2 {
			return errorf("n1 has not delivered n3's message")
		}
		return nil
	})
	if counts, _ := col3.snapshot(); len(counts) != 0 {
		t.Errorf("n3 delivered a message beyond the hop limit")
	}
}

// A peer that sends a dchat message with a bad id is disconnected and,
// under the strict ban policy, banned; the node keeps running.
func TestInvalidMessageDisconnectsPeer(t *testing.T) {
	d := newTestNode(t, "d", Config{})
	d.start(t)
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	handshakeAsPlainHost(t, ctx, h, d.addr)
	eventually(t, 5*time.Second, func() error {
		if chatChannels(d.node) != 1 {
			return errorf("no inbound channel yet")
		}
		return nil
	})
	s, err := h.NewStream(ctx, d.node.ID(), d.chat.Spec().ID("test"))
	if err != nil {
		t.Fatal(err)
	}
	bad := &DchatMessage{Id: make([]byte, 15), Sender: []byte(h.ID()), Text: "hi", Timestamp: uint64(time.Now().Unix())}
	data, err := proto.Marshal(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(append(binary.AppendUvarint(nil, uint64(len(data))), data...)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() error {
		if !d.node.Host().Gater.Banned(h.ID(), nil) {
			return errorf("peer not banned")
		}
		if len(d.node.Channels()) != 0 || len(h.Network().ConnsToPeer(d.node.ID())) != 0 {
			return errorf("peer still connected")
		}
		return nil
	})
	if st := d.chat.Stats(); st.Rejected != 1 || st.Delivered != 0 {
		t.Errorf("stats %+v", st)
	}
	if !d.node.Running() {
		t.Error("node stopped")
	}
}

// handshakeAsPlainHost completes dnode's version handshake from a plain
// libp2p host, so that the dnode opens an inbound channel for it (as in
// integration/libp2p_test.go).
func handshakeAsPlainHost(t testing.TB, ctx context.Context, h host.Host, target ma.Multiaddr) {
	t.Helper()
	ai, err := peer.AddrInfoFromP2pAddr(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(ctx, *ai); err != nil {
		t.Fatal(err)
	}
	s, err := h.NewStream(ctx, ai.ID, version.ID("test"))
	if err != nil {
		t.Fatal(err)
	}
	local := version.Local{AppName: "dnode", AppVersion: dnode.Version}
	if _, err := version.Exchange(ctx, s, s, local, nil, 5*time.Second, time.Now()); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	s.Close()
}
