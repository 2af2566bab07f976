package dchat

import (
	"google.golang.org/protobuf/proto"

	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols"
)

// fakeClock is a settable clock for Chat.now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// unitChat returns a Chat on a node that is not started (relays are
// refused by the node, harmlessly) with a fake clock at t0.
func unitChat(t *testing.T, cfg Config) (*Chat, *fakeClock) {
	t.Helper()
	tn := newTestNode(t, "unit", cfg)
	clk := &fakeClock{now: t0}
	tn.chat.now = clk.Now
	return tn.chat, clk
}

// randomPeer returns a fresh peer ID.
func randomPeer(t testing.TB) peer.ID {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wireMsg returns a valid message with id {b}, from sender, stamped ts.
func wireMsg(b byte, sender peer.ID, ts time.Time, hops uint32) *DchatMessage {
	k := msgID{b}
	return &DchatMessage{Id: k[:], Sender: []byte(sender), Text: "msg", Timestamp: uint64(ts.Unix()), Hops: hops}
}

func wantStats(t *testing.T, c *Chat, want Stats) {
	t.Helper()
	if got := c.Stats(); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestDuplicateDropped(t *testing.T) {
	c, _ := unitChat(t, Config{})
	from := randomPeer(t)
	for range 3 {
		if err := c.receive(wireMsg(1, from, t0, 0), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Another relay path: same id, higher hop count.
	if err := c.receive(wireMsg(1, from, t0, 4), nil); err != nil {
		t.Fatal(err)
	}
	wantStats(t, c, Stats{Delivered: 1, Duplicates: 3})
	got := c.Recv(0)
	if len(got) != 1 || got[0].Sender != from || got[0].Text != "msg" || got[0].Hops != 0 ||
		!got[0].Time.Equal(t0) || got[0].ID != "01000000000000000000000000000000" {
		t.Fatalf("buffer = %+v", got)
	}
}

// An id is forgotten SeenTTL after it was seen; a copy arriving after
// that is older than SeenTTL and dropped as expired, not delivered again.
func TestSeenExpiryAndReplay(t *testing.T) {
	c, clk := unitChat(t, Config{SeenTTL: time.Minute})
	from := randomPeer(t)
	m := wireMsg(1, from, t0, 0)
	if err := c.receive(m, nil); err != nil {
		t.Fatal(err)
	}
	clk.Add(59 * time.Second)
	_ = c.receive(m, nil)
	wantStats(t, c, Stats{Delivered: 1, Duplicates: 1})

	clk.Add(2 * time.Second) // the id has expired from the seen-cache
	c.mu.Lock()
	known := c.seen.contains(msgID{1}, clk.Now())
	c.mu.Unlock()
	if known {
		t.Fatal("id still in the seen-cache after SeenTTL")
	}
	_ = c.receive(m, nil) // the replay
	wantStats(t, c, Stats{Delivered: 1, Duplicates: 1, Expired: 1})

	// A fresh message with a new id is still accepted.
	if err := c.receive(wireMsg(2, from, clk.Now(), 0), nil); err != nil {
		t.Fatal(err)
	}
	wantStats(t, c, Stats{Delivered: 2, Duplicates: 1, Expired: 1})
}

// Old and far-future timestamps are dropped; a minute of skew is allowed,
// and an early message is remembered until SeenTTL after its timestamp.
func TestTimestampWindow(t *testing.T) {
	c, clk := unitChat(t, Config{SeenTTL: 10 * time.Minute})
	from := randomPeer(t)
	_ = c.receive(wireMsg(1, from, t0.Add(-10*time.Minute-time.Second), 0), nil) // too old
	_ = c.receive(wireMsg(2, from, t0.Add(61*time.Second), 0), nil)              // too far ahead
	_ = c.receive(&DchatMessage{Id: make([]byte, 16), Sender: []byte(from), Text: "x", Timestamp: ^uint64(0)}, nil)
	wantStats(t, c, Stats{Expired: 3})

	early := wireMsg(3, from, t0.Add(59*time.Second), 0)
	_ = c.receive(wireMsg(4, from, t0.Add(-9*time.Minute), 0), nil)
	_ = c.receive(early, nil)
	wantStats(t, c, Stats{Delivered: 2, Expired: 3})
	// Ten minutes after receipt but before ten minutes after its
	// timestamp, the early message is still known.
	clk.Add(10*time.Minute + 30*time.Second)
	_ = c.receive(early, nil)
	wantStats(t, c, Stats{Delivered: 2, Expired: 3, Duplicates: 1})
	clk.Add(time.Minute)
	_ = c.receive(early, nil)
	wantStats(t, c, Stats{Delivered: 2, Expired: 4, Duplicates: 1})
}

// The seen-cache holds SeenMax ids; an evicted id is accepted again (the
// bound trades memory for a duplicate under floods).
func TestSeenMaxEviction(t *testing.T) {
	c, _ := unitChat(t, Config{SeenMax: 2})
	from := randomPeer(t)
	for b := byte(1); b <= 3; b++ {
		_ = c.receive(wireMsg(b, from, t0, 0), nil)
	}
	_ = c.receive(wireMsg(3, from, t0, 0), nil) // still known
	wantStats(t, c, Stats{Delivered: 3, Duplicates: 1})
	_ = c.receive(wireMsg(1, from, t0, 0), nil) // evicted: delivered again
	wantStats(t, c, Stats{Delivered: 4, Duplicates: 1})
	c.mu.Lock()
	size := c.seen.size()
	c.mu.Unlock()
	if size != 2 {
		t.Errorf("seen-cache holds %d ids, bound 2", size)
	}
}

// Hop counts up to MaxHops are delivered; above it the message is dropped
// and counted, without stopping the channel.
func TestHopLimit(t *testing.T) {
	c, _ := unitChat(t, Config{MaxHops: 3})
	from := randomPeer(t)
	if err := c.receive(wireMsg(1, from, t0, 3), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.receive(wireMsg(2, from, t0, 4), nil); err != nil {
		t.Fatalf("hops over the limit is not a violation: %v", err)
	}
	if err := c.receive(wireMsg(3, from, t0, ^uint32(0)), nil); err != nil {
		t.Fatal(err)
	}
	wantStats(t, c, Stats{Delivered: 1, Rejected: 2})
	if got := c.Recv(0); len(got) != 1 || got[0].Hops != 3 {
		t.Fatalf("buffer = %+v", got)
	}
}

func TestInvalidMessagesAreViolations(t *testing.T) {
	c, _ := unitChat(t, Config{MaxText: 8})
	from := randomPeer(t)
	good := func() *DchatMessage { return wireMsg(1, from, t0, 0) }
	cases := map[string]func(m *DchatMessage){
		"short id":     func(m *DchatMessage) { m.Id = m.Id[:15] },
		"long id":      func(m *DchatMessage) { m.Id = append(m.Id, 0) },
		"no id":        func(m *DchatMessage) { m.Id = nil },
		"bad sender":   func(m *DchatMessage) { m.Sender = []byte("not a peer id") },
		"no sender":    func(m *DchatMessage) { m.Sender = nil },
		"long text":    func(m *DchatMessage) { m.Text = "123456789" },
		"invalid utf8": func(m *DchatMessage) { m.Text = "\xff\xfe" },
	}
	for name, mutate := range cases {
		m := good()
		mutate(m)
		if err := c.receive(m, nil); !errors.Is(err, channel.ErrViolation) {
			t.Errorf("%s: err = %v, want a violation", name, err)
		}
	}
	wantStats(t, c, Stats{Rejected: uint64(len(cases))})
	m := good()
	m.Text = "12345678" // exactly MaxText
	if err := c.receive(m, nil); err != nil {
		t.Fatal(err)
	}
}

// Recv returns at most BufferSize newest messages, oldest first.
func TestBufferBound(t *testing.T) {
	c, _ := unitChat(t, Config{BufferSize: 5})
	from := randomPeer(t)
	if got := c.Recv(0); len(got) != 0 {
		t.Fatalf("empty buffer returned %d messages", len(got))
	}
	for b := byte(1); b <= 3; b++ {
		_ = c.receive(wireMsg(b, from, t0, 0), nil)
	}
	checkIDs(t, c.Recv(0), 1, 2, 3)
	checkIDs(t, c.Recv(2), 2, 3)
	for b := byte(4); b <= 12; b++ {
		_ = c.receive(wireMsg(b, from, t0, 0), nil)
	}
	checkIDs(t, c.Recv(0), 8, 9, 10, 11, 12)
	checkIDs(t, c.Recv(100), 8, 9, 10, 11, 12)
	checkIDs(t, c.Recv(3), 10, 11, 12)
	checkIDs(t, c.Recv(-1), 8, 9, 10, 11, 12)
}

func checkIDs(t *testing.T, got []Message, want ...byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i, m := range got {
		k := msgID{want[i]}
		if m.ID != msgIDHex(k) {
			t.Errorf("message %d has id %s, want %x", i, m.ID[:2], want[i])
		}
	}
}

func msgIDHex(k msgID) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	for _, x := range k {
		b.WriteByte(digits[x>>4])
		b.WriteByte(digits[x&15])
	}
	return b.String()
}

// A full subscription drops its oldest message and counts it; Close
// closes C and detaches the subscription.
func TestSubscriptionDropOldest(t *testing.T) {
	c, _ := unitChat(t, Config{})
	from := randomPeer(t)
	sub := c.Subscribe(2)
	other := c.Subscribe(0)
	for b := byte(1); b <= 3; b++ {
		_ = c.receive(wireMsg(b, from, t0, 0), nil)
	}
	if sub.Dropped() != 1 || other.Dropped() != 0 {
		t.Fatalf("dropped = %d and %d, want 1 and 0", sub.Dropped(), other.Dropped())
	}
	checkIDs(t, []Message{<-sub.C(), <-sub.C()}, 2, 3)
	sub.Close()
	sub.Close()
	_ = c.receive(wireMsg(4, from, t0, 0), nil) // not pushed to the closed one
	if _, ok := <-sub.C(); ok {
		t.Fatal("closed subscription delivered a message")
	}
	if len(other.C()) != 4 {
		t.Fatalf("open subscription holds %d messages, want 4", len(other.C()))
	}
	other.Close()
	var drained []Message
	for m := range other.C() { // queued messages stay readable after Close
		drained = append(drained, m)
	}
	checkIDs(t, drained, 1, 2, 3, 4)
}

// Concurrent receivers, subscribers and readers are race-free.
func TestConcurrentUse(t *testing.T) {
	c, _ := unitChat(t, Config{BufferSize: 50, SeenMax: 100})
	from := randomPeer(t)
	sub := c.Subscribe(8)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				k := msgID{byte(w), byte(i)}
				_ = c.receive(&DchatMessage{Id: k[:], Sender: []byte(from), Text: "x", Timestamp: uint64(t0.Unix())}, nil)
				_ = c.Recv(10)
				_ = c.Stats()
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			select {
			case <-sub.C():
			default:
			}
		}
	})
	wg.Wait()
	sub.Close()
	st := c.Stats()
	if st.Delivered != 800 || uint64(len(sub.C()))+sub.Dropped()+100 < 800 {
		t.Errorf("stats %+v, dropped %d", st, sub.Dropped())
	}
}

func TestSendErrors(t *testing.T) {
	c, _ := unitChat(t, Config{MaxText: 4})
	if _, err := c.Send("hi"); !errors.Is(err, dnode.ErrNotRunning) || !errors.Is(err, ErrNotReady) {
		t.Errorf("send on a stopped node: %v", err)
	}
	if _, err := c.Send(""); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty: %v", err)
	}
	if _, err := c.Send("hello"); !errors.Is(err, ErrTooLong) {
		t.Errorf("too long: %v", err)
	}
	if _, err := c.Send("\xff"); !errors.Is(err, ErrNotUTF8) {
		t.Errorf("not utf-8: %v", err)
	}
	if got := c.Recv(0); len(got) != 0 {
		t.Errorf("failed sends were buffered: %+v", got)
	}
}

// New registers like any protocol: a second dchat on the same node, or
// one on a running node, is refused.
func TestNewRegistration(t *testing.T) {
	tn := newTestNode(t, "a", Config{})
	if _, err := New(tn.node, Config{}); !errors.Is(err, protocols.ErrDuplicate) {
		t.Errorf("second dchat: %v", err)
	}
	if got := tn.chat.Spec().ID("test"); got != "/dnode/test/dchat/1.0.0" {
		t.Errorf("protocol ID %s", got)
	}
	if got := tn.chat.Spec().MaxBytes(); got != DefaultMaxText+FrameOverhead {
		t.Errorf("MaxBytes %d", got)
	}
	n, err := dnode.New(testSettings(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	if _, err := New(n, Config{}); !errors.Is(err, protocols.ErrFrozen) {
		t.Errorf("dchat on a running node: %v", err)
	}
}

func TestFreshDropsSeenBeforeDecoding(t *testing.T) {
	c, _ := unitChat(t, Config{})
	from := randomPeer(t)
	raw, err := proto.Marshal(wireMsg(2, from, t0, 3))
	if err != nil {
		t.Fatal(err)
	}
	if id := rawID(raw); len(id) != IDLen || id[0] != 2 {
		t.Fatalf("rawID = %x", id)
	}
	if rawID([]byte{0x0a, 0x7f}) != nil || rawID([]byte{0xff}) != nil {
		t.Fatal("rawID of a broken encoding is not nil")
	}
	if !c.fresh(raw) {
		t.Fatal("unseen message dropped")
	}
	if err := c.receive(wireMsg(2, from, t0, 3), nil); err != nil {
		t.Fatal(err)
	}
	if c.fresh(raw) {
		t.Fatal("seen message kept")
	}
	// Messages without a usable id go on to receive, which judges them.
	if !c.fresh(nil) {
		t.Fatal("message without id dropped")
	}
	wantStats(t, c, Stats{Delivered: 1, Duplicates: 1})
}
