package relay

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/internal/testnet"
)

// TestCatchUp: a node that was stopped while 100 messages went round
// gets every one of them, once each, after the restart, through the
// digests of its new channels; the messages it had before are not
// delivered again.
func TestCatchUp(t *testing.T) {
	a := newTNode(t, Config{}, "a")
	b := newTNode(t, Config{}, "b")
	c := newTNode(t, Config{}, "c")
	connect(t, a, b)
	connect(t, c, a)
	connect(t, c, b)
	waitLinks(t, []*tnode{a, b, c}, []int{2, 2, 2})
	ctx := context.Background()
	before, err := a.topic.Publish(ctx, []byte("before the stop"))
	if err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, func() error {
		if c.count(before) != 1 {
			return fmt.Errorf("c has not got the first message")
		}
		return nil
	})

	if err := c.node.Stop(); err != nil {
		t.Fatal(err)
	}
	var missed []ID
	for i := range 100 {
		from := a
		if i%2 == 1 {
			from = b
		}
		id, err := from.topic.Publish(ctx, fmt.Appendf(nil, "while c was away %d", i))
		if err != nil {
			t.Fatal(err)
		}
		missed = append(missed, id)
	}
	testnet.Eventually(t, 10*time.Second, func() error {
		for _, id := range missed {
			if a.count(id)+b.count(id) != 1 {
				return fmt.Errorf("a and b have not exchanged every message")
			}
		}
		return nil
	})

	if err := c.node.Start(ctx); err != nil {
		t.Fatal(err)
	}
	connect(t, c, a)
	back := time.Now()
	testnet.Eventually(t, 10*time.Second, func() error {
		n := 0
		for _, id := range missed {
			if c.count(id) > 0 {
				n++
			}
		}
		if n != len(missed) {
			return fmt.Errorf("c caught up %d of %d messages", n, len(missed))
		}
		return nil
	})
	took := time.Since(back)
	connect(t, c, b) // a second digest, listing the same messages
	waitLinks(t, []*tnode{a, b, c}, []int{2, 2, 2})
	quiet(t, []*tnode{a, b, c})
	for i, id := range missed {
		if n := c.count(id); n != 1 {
			t.Errorf("message %d delivered %d times", i, n)
		}
	}
	if n := c.count(before); n != 1 {
		t.Errorf("the message from before the stop delivered %d times", n)
	}
	st := c.relay.Stats()
	// How fast is a benchmark figure (bench/, "catch-up"); here it is
	// only logged.
	t.Logf("caught up %d messages in %s after reconnecting (stats: caught_up %d, duplicates %d)", len(missed), took.Round(time.Millisecond), st.CaughtUp, st.Duplicates)
	if st.CaughtUp < uint64(len(missed)) {
		t.Errorf("caught_up %d, want at least %d: the messages did not come through catch-up", st.CaughtUp, len(missed))
	}
}
