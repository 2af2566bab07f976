package relay

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/internal/testnet"
)

// TestLargeMessages: with max_message_size 4 MiB a 4 MiB message crosses
// a line of three nodes intact, offered and fetched (never pushed), once
// per link; a node with the default 1 MiB limit next to them is never
// sent it, and over the limit Publish fails.
func TestLargeMessages(t *testing.T) {
	cfg := Config{MaxMessageSize: 4 << 20}
	a := newTNode(t, cfg, "a")
	b := newTNode(t, cfg, "b")
	c := newTNode(t, cfg, "c")
	small := newTNode(t, Config{}, "small")
	connect(t, a, b)
	connect(t, b, c)
	connect(t, small, b)
	waitLinks(t, []*tnode{a, b, c, small}, []int{1, 3, 1, 1})

	data := make([]byte, 4<<20)
	_, _ = rand.Read(data)
	id, err := a.topic.Publish(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 30*time.Second, func() error {
		if c.count(id) != 1 || b.count(id) != 1 {
			return fmt.Errorf("the 4 MiB message has not crossed the line")
		}
		return nil
	})
	quiet(t, []*tnode{a, b, c, small})
	for name, n := range map[string]*tnode{"b": b, "c": c} {
		if got := n.data(id); !bytes.Equal(got, data) {
			t.Errorf("%s got %d bytes, not the message", name, len(got))
		}
		if st := n.relay.Stats(); st.Duplicates != 0 {
			t.Errorf("%s received %d duplicates of a large message", name, st.Duplicates)
		}
	}
	// Each link carried the message once: a→b and b→c, nothing else.
	total := a.relay.Stats().BytesSent + b.relay.Stats().BytesSent + c.relay.Stats().BytesSent
	if total < 2*uint64(len(data)) || total > 2*uint64(len(data))+64<<10 {
		t.Errorf("%d relay bytes sent for a %d-byte message over two links", total, len(data))
	}
	if st := small.relay.Stats(); st.Received != 0 || st.BytesReceived > 64<<10 {
		t.Errorf("the 1 MiB node was sent the 4 MiB message: %+v", st)
	}
	if _, err := a.topic.Publish(context.Background(), make([]byte, 4<<20+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Publish over the limit = %v, want ErrTooLarge", err)
	}
}
