package chatrpc

import (
	"errors"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/dchat"
	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/rpc"
)

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }

// chatNode starts a node with a dchat and no outbound slots.
func chatNode(t *testing.T, name string) (*dnode.Node, *dchat.Chat) {
	t.Helper()
	s := testnet.Settings(t)
	s.Net.OutboundConnections = 0
	n := testnet.NewNode(t, name, s)
	c, err := dchat.New(n, dchat.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return n, c
}

// The adapter passes sends, the buffer and the live feed through with
// every field converted, and its cancel closes the feed and ends its
// goroutine (leaktest checks at exit).
func TestAdapter(t *testing.T) {
	a, chatA := chatNode(t, "a")
	b, chatB := chatNode(t, "b")
	if err := b.Admin().AddPeer(testnet.AddrOf(t, a)); err != nil {
		t.Fatal(err)
	}
	ra, rb := Adapt(chatA), Adapt(chatB)
	feed, cancel := rb.Subscribe()
	defer cancel()
	testnet.Eventually(t, 10*time.Second, func() error {
		if chatB.Relay().Stats().Links != 1 {
			return errNoLink
		}
		return nil
	})

	sent, err := ra.Send("hello")
	if err != nil {
		t.Fatal(err)
	}
	if sent.Text != "hello" || sent.Sender != a.ID().String() || sent.ID == "" || sent.Time == 0 || sent.Hops != 0 {
		t.Fatalf("Send returned %+v", sent)
	}
	if _, err := ra.Send(""); err == nil {
		t.Fatal("an empty text was sent")
	}

	var got rpc.ChatMessage
	select {
	case got = <-feed:
	case <-time.After(10 * time.Second):
		t.Fatal("no message on b's feed")
	}
	if got != sent { // a's neighbour: no hop in between
		t.Fatalf("b's feed got %+v, want %+v", got, sent)
	}
	if buf := ra.Recv(10); len(buf) != 1 || buf[0].ID != sent.ID {
		t.Fatalf("a's buffer %+v, want its send", buf)
	}
	if buf := rb.Recv(0); len(buf) != 1 || buf[0] != got {
		t.Fatalf("b's buffer %+v, want %+v", buf, got)
	}

	cancel()
	cancel() // idempotent
	select {
	case _, ok := <-feed:
		if ok {
			t.Fatal("a message after cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("feed not closed by cancel")
	}
}

var errNoLink = errors.New("b has no relay link yet")
