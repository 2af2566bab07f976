package dchat

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode"
)

func TestSendRules(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t, "a", Config{MaxText: 8})
	for _, c := range []struct {
		text string
		err  error
	}{
		{"", ErrEmpty},
		{"123456789", ErrTooLong},
		{"\xff\xfe", ErrNotUTF8},
		{"hello", ErrNotReady}, // not started
	} {
		if _, err := tn.chat.Send(c.text); !errors.Is(err, c.err) {
			t.Errorf("Send(%q) = %v, want %v", c.text, err, c.err)
		}
	}
	if _, err := tn.chat.Send("hello"); !errors.Is(err, dnode.ErrNotRunning) {
		t.Errorf("ErrNotReady does not wrap dnode.ErrNotRunning: %v", err)
	}
	tn.start(t)
	m, err := tn.chat.Send("hello")
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "hello" || m.Sender != tn.node.ID() || m.Hops != 0 || len(m.ID) != 64 {
		t.Errorf("sent %+v", m)
	}
	if got := tn.chat.Recv(0); len(got) != 1 || got[0].ID != m.ID {
		t.Errorf("Recv = %+v, want the sent message", got)
	}
	if st := tn.chat.Stats(); st.Sent != 1 || st.Delivered != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestBufferKeepsNewest(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t, "a", Config{BufferSize: 3})
	tn.start(t)
	for i := range 5 {
		if _, err := tn.chat.Send(fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	var texts []string
	for _, m := range tn.chat.Recv(0) {
		texts = append(texts, m.Text)
	}
	if strings.Join(texts, ",") != "2,3,4" {
		t.Errorf("buffer %v, want 2,3,4", texts)
	}
	if got := tn.chat.Recv(2); len(got) != 2 || got[1].Text != "4" {
		t.Errorf("Recv(2) = %+v", got)
	}
}

// TestLine: five nodes in a line; a message from each end reaches every
// other node once, with the hop count of its path, and subscribers see
// it.
func TestLine(t *testing.T) {
	t.Parallel()
	nodes := topology(t, 5, false, Config{})
	cols := make([]*collector, len(nodes))
	for i, tn := range nodes {
		cols[i] = collect(t, tn.chat)
	}
	first, err := nodes[0].chat.Send("from the first")
	if err != nil {
		t.Fatal(err)
	}
	last, err := nodes[4].chat.Send("from the last")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		for i, col := range cols {
			counts, msgs := col.snapshot()
			for _, sent := range []struct {
				m    Message
				from int
			}{{first, 0}, {last, 4}} {
				if i == sent.from {
					if counts[sent.m.ID] != 0 {
						return errorf("node %d got its own message", i)
					}
					continue
				}
				if counts[sent.m.ID] != 1 {
					return errorf("node %d has %q %d times", i, sent.m.Text, counts[sent.m.ID])
				}
				hops := i - sent.from - 1
				if hops < 0 {
					hops = sent.from - i - 1
				}
				if got := msgs[sent.m.ID]; got.Hops != hops || got.Sender != nodes[sent.from].node.ID() || got.Text != sent.m.Text {
					return errorf("node %d got %+v, want hops %d from node %d", i, got, hops, sent.from)
				}
			}
		}
		return nil
	})
	if st := nodes[2].chat.Stats(); st.Delivered != 2 || st.Sent != 0 {
		t.Errorf("middle node stats %+v", st)
	}
}

// TestInvalidTextRejected: a node allowing longer texts sends one; the
// others' validators reject it, it is not delivered, and a valid message
// after it still is.
func TestInvalidTextRejected(t *testing.T) {
	t.Parallel()
	big := newTestNode(t, "big", Config{MaxText: 8192})
	big.start(t)
	small := newTestNode(t, "small", Config{}, big.addr(t))
	small.start(t)
	eventually(t, 10*time.Second, func() error {
		if chatChannels(small.node) != 1 || chatChannels(big.node) != 1 {
			return errorf("no channel yet")
		}
		return nil
	})
	col := collect(t, small.chat)
	if _, err := big.chat.Send(strings.Repeat("x", 5000)); err != nil {
		t.Fatal(err)
	}
	ok, err := big.chat.Send("short")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		counts, _ := col.snapshot()
		if counts[ok.ID] != 1 {
			return errorf("the valid message did not arrive")
		}
		return nil
	})
	counts, _ := col.snapshot()
	if len(counts) != 1 {
		t.Errorf("delivered %d messages, want only the valid one", len(counts))
	}
	if st := small.chat.Stats(); st.Rejected != 1 || st.Delivered != 1 {
		t.Errorf("stats %+v, want 1 rejected, 1 delivered", st)
	}
}

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
		nodes[i] = newTestNode(t, fmt.Sprintf("n%d", i), cfg)
		nodes[i].start(t)
	}
	// Manual peers once every listener has its port.
	for i, tn := range nodes {
		var p *testNode
		switch {
		case i > 0:
			p = nodes[i-1]
		case ring:
			p = nodes[n-1]
		default:
			continue
		}
		if err := tn.node.Admin().AddPeer(p.addr(t)); err != nil {
			t.Fatalf("%s: add %s: %v", tn.name, p.name, err)
		}
	}
	eventually(t, 20*time.Second, func() error {
		for i, tn := range nodes {
			want := 2
			if !ring && (i == 0 || i == n-1) {
				want = 1
			}
			if got := tn.chat.Relay().Stats().Links; got != want {
				return errorf("node %d has %d relay links, want %d", i, got, want)
			}
		}
		return nil
	})
	return nodes
}
