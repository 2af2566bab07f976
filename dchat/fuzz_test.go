package dchat

import (
	"bytes"
	"context"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode/relay"
)

// FuzzValidate runs dchat's relay validator and then, for what it
// accepts, its delivery, on any message a peer can relay: any data, hop
// count, time and local flag, under a small MaxText and buffer. The
// validator accepts exactly the non-empty, valid UTF-8 texts of at most
// MaxText bytes (the rules Send applies, through the same check) and
// counts each received rejection once; an accepted message is buffered
// with its text, sender and hop count unchanged (Hops one less, never
// negative), reaches a subscriber unless it is our own, and the buffer
// and the subscription stay within their capacities.
func FuzzValidate(f *testing.F) {
	f.Add([]byte("hello"), uint8(1), false, int64(1))
	f.Add([]byte(""), uint8(0), false, int64(0))
	f.Add([]byte("\xff\xfe"), uint8(3), false, int64(-1))
	f.Add([]byte("héllo wörld"), uint8(0), true, int64(1<<62))
	f.Add(bytes.Repeat([]byte("a"), 33), uint8(200), false, int64(5))
	f.Add([]byte("\xe2\x82"), uint8(1), false, int64(5)) // a cut rune
	f.Add([]byte("a\x00b"), uint8(1), false, int64(5))
	const maxText, bufferSize, subCap = 32, 4, 2
	origin := peer.ID("\x00\x05hello") // identity multihash: any bytes do here
	f.Fuzz(func(t *testing.T, data []byte, hops uint8, local bool, ns int64) {
		c := &Chat{cfg: Config{MaxText: maxText, BufferSize: bufferSize}, subs: make(map[*Subscription]struct{})}
		c.cfg.setDefaults()
		sub := c.Subscribe(subCap)
		defer sub.Close()
		m := &relay.Message{ID: relay.ID{0xff}, Topic: Topic, Origin: origin, Data: data, Time: time.Unix(0, ns), Hops: int(hops),
			ReceivedFrom: origin, Received: time.Unix(1e9, 0), Local: local}
		// The relay delivers each message once; some other messages first
		// (id zero), so that the ring wraps.
		for i := range int(hops) % (2 * bufferSize) {
			c.deliver(&relay.Message{Topic: Topic, Origin: origin, Data: []byte{'a' + byte(i)}, Hops: 1})
		}
		before := c.Stats()
		v := c.validate(context.Background(), origin, m)

		want := len(data) > 0 && len(data) <= maxText && utf8.Valid(data)
		if (v == relay.ValidationAccept) != want {
			t.Fatalf("validate(%q) = %v, want accept=%v", data, v, want)
		}
		if v != relay.ValidationAccept && v != relay.ValidationReject {
			t.Fatalf("validate returned %v", v)
		}
		if (c.checkText(data) == nil) != want {
			t.Fatalf("Send's check disagrees with the validator on %q", data)
		}
		rejected := c.Stats().Rejected - before.Rejected
		if wantRej := uint64(0); !want && !local {
			if wantRej = 1; rejected != wantRej {
				t.Fatalf("a rejected message counted %d times", rejected)
			}
		} else if rejected != 0 {
			t.Fatalf("counted %d rejections for an accepted or local message", rejected)
		}
		if !want {
			return
		}
		c.deliver(m)
		got := c.Recv(0)
		if len(got) > bufferSize {
			t.Fatalf("buffer holds %d messages, size %d", len(got), bufferSize)
		}
		last := got[len(got)-1]
		wantHops := 0
		if !local {
			wantHops = max(int(hops)-1, 0)
		}
		if last.ID != m.ID.String() || last.Text != string(data) || last.Sender != origin || last.Hops != wantHops || !last.Time.Equal(m.Time) {
			t.Fatalf("buffered %+v for %q hops %d local %v", last, data, hops, local)
		}
		if len(sub.C()) > subCap {
			t.Fatalf("subscription holds %d, capacity %d", len(sub.C()), subCap)
		}
		var seen bool
		for len(sub.C()) > 0 {
			if msg := <-sub.C(); msg.ID == m.ID.String() {
				if seen = true; msg.Text != string(data) || msg.Hops != wantHops {
					t.Fatalf("subscriber got %+v for %q hops %d", msg, data, hops)
				}
			}
		}
		if seen == local {
			t.Fatalf("subscriber saw the message: %v, local: %v", seen, local)
		}
	})
}
