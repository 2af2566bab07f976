package sessions

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }

func testPeer(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// selfEntries returns n addresses of p on n different ports, as a peer
// sending addr entries under its own peer ID would.
func selfEntries(t *testing.T, p peer.ID, n int) []addrbook.Entry {
	t.Helper()
	out := make([]addrbook.Entry, n)
	for i := range out {
		a := ma.StringCast(fmt.Sprintf("/ip4/203.0.113.%d/tcp/%d/p2p/%s", i%250+1, 1000+i, p))
		out[i] = addrbook.Entry{Addr: a, Peer: p, LastSeen: time.Unix(1700000000, 0)}
	}
	return out
}

// newPromptRefine returns a Refine with only its prompt queue, for the
// tests of Prompt (which touches nothing else).
func newPromptRefine() *Refine {
	return &Refine{prompt: make(chan addrbook.Entry, promptQueue), prompted: make(map[peer.ID]struct{})}
}

// A peer that sends many addresses under its own peer ID gets one
// refinery prompt per round, not one per address.
func TestRefinePromptOncePerPeerPerRound(t *testing.T) {
	t.Parallel()
	r := newPromptRefine()
	attacker, honest := testPeer(t), testPeer(t)
	for _, e := range selfEntries(t, attacker, 50) {
		r.Prompt(e)
	}
	r.Prompt(selfEntries(t, honest, 1)[0])
	if got := len(r.prompt); got != 2 {
		t.Fatalf("%d prompts queued, want 2 (one per peer)", got)
	}
	if e := <-r.prompt; e.Peer != attacker {
		t.Fatalf("first prompt for %s, want the attacker's first address", e.Peer)
	}
	// Still the same round: the attacker's queue slot is used up even
	// though the probe was taken off the queue.
	for _, e := range selfEntries(t, attacker, 5) {
		r.Prompt(e)
	}
	if got := len(r.prompt); got != 1 {
		t.Fatalf("%d prompts queued after the attacker's second batch, want 1", got)
	}
	r.newRound()
	r.Prompt(selfEntries(t, attacker, 1)[0])
	if got := len(r.prompt); got != 2 {
		t.Fatalf("next round: %d prompts queued, want 2", got)
	}
}

// At most promptQueue peers are prompted per round, however many
// identities send addresses.
func TestRefinePromptsBoundedPerRound(t *testing.T) {
	t.Parallel()
	r := newPromptRefine()
	for range promptQueue + 20 {
		r.Prompt(selfEntries(t, testPeer(t), 1)[0])
		select {
		case <-r.prompt: // a fast refinery empties the queue at once
		default:
		}
	}
	if n := len(r.prompted); n != promptQueue {
		t.Fatalf("%d peers prompted in one round, want %d", n, promptQueue)
	}
}
