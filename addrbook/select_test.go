package addrbook

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// selectBook builds a book with n entries in every list. long makes the
// addresses long DNS names, so that the byte budget binds.
func selectBook(t *testing.T, n int, long bool) (*Book, map[peer.ID]Color) {
	b, _ := newTestBook(t, Config{})
	colors := make(map[peer.ID]Color)
	b.mu.Lock()
	defer b.mu.Unlock()
	i := 0
	transports := []string{"tcp/%d", "udp/%d/quic-v1", "tcp/%d/ws", "udp/%d/quic-v1/webtransport"}
	for _, c := range []Color{Gold, White, Grey, Black, Dark} {
		for range n {
			p := testPeer(i)
			host := "/ip4/" + globalIP4(i)
			if long {
				host = fmt.Sprintf("/dns/%s-%d.example.com", strings.Repeat("x", 200), i)
			}
			s := fmt.Sprintf("%s/%s/p2p/%s", host, fmt.Sprintf(transports[i%4], 4000+i%1000), p)
			it, ok := newItem(mustMA(t, s), p)
			if !ok {
				t.Fatalf("bad %s", s)
			}
			it.ts = epoch.Add(-time.Duration(i) * time.Second).Unix()
			b.addLocked(c, it)
			colors[p] = c
			i++
		}
	}
	return b, colors
}

func TestSelectBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		maxes := []int{0, 1, 8, 255, 256, MaxReply, 1<<32 - 1, -5}
		for _, n := range []int{0, 3, 100, 1000} {
			for _, long := range []bool{false, true} {
				b, colors := selectBook(t, n, long)
				for _, mx := range maxes {
					for _, tr := range [][]string{nil, {"tcp"}, {"quic", "ws"}, {"tcp", "quic", "ws", "bogus"}} {
						got := b.Select(mx, tr)
						clamp := min(max(mx, 0), MaxReply)
						if len(got) > 2*clamp {
							t.Fatalf("n=%d max=%d: %d entries > %d", n, mx, len(got), 2*clamp)
						}
						size, est := replyEnvelope, 0
						seen := make(map[string]bool)
						for _, e := range got {
							if c := colors[e.Peer]; c == Grey || c == Black {
								t.Fatalf("Select returned a %s entry", c)
							}
							if seen[e.Addr.String()] {
								t.Fatalf("duplicate %s", e.Addr)
							}
							seen[e.Addr.String()] = true
							size += EncodedSize(e)
							est += len(e.Addr.Bytes()) + 12
						}
						if size > MaxReplyBytes || est > MaxReplyBytes {
							t.Fatalf("n=%d max=%d long=%v: encoded %d, estimate %d > %d", n, mx, long, size, est, MaxReplyBytes)
						}
						// With enough entries the reply is full (or the budget binds).
						if !long && n >= 1000 && clamp > 0 && clamp <= 255 && len(got) != 2*clamp {
							t.Fatalf("n=%d max=%d: only %d entries", n, mx, len(got))
						}
					}
				}
			}
		}
	})
}

func TestSelectPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, colors := selectBook(t, 40, false)
		// 10 gold and 10 white tcp entries exist (every 4th).
		got := b.Select(8, []string{"tcp"})
		if len(got) != 16 {
			t.Fatalf("%d entries", len(got))
		}
		for i, e := range got {
			want := Gold
			if i >= 8 {
				want = White
			}
			if colors[e.Peer] != want || Transport(e.Addr) != "tcp" {
				t.Fatalf("entry %d: %s %s, want %s tcp", i, colors[e.Peer], Transport(e.Addr), want)
			}
		}
		// Not enough matching: other transports and dark fill.
		got = b.Select(30, []string{"tcp"})
		if len(got) != 60 {
			t.Fatalf("filled %d, want 60", len(got))
		}
		for i, e := range got[:20] {
			if Transport(e.Addr) != "tcp" {
				t.Fatalf("entry %d not tcp", i)
			}
		}
		for _, e := range got[20:] {
			if Transport(e.Addr) == "tcp" && colors[e.Peer] != Dark {
				t.Fatalf("matching %s entry in the filler", colors[e.Peer])
			}
		}
		countDark := func(es []Entry) int {
			n := 0
			for _, e := range es {
				if colors[e.Peer] == Dark {
					n++
				}
			}
			return n
		}
		if d := countDark(got); d != 0 {
			t.Fatalf("dark used while gold and white suffice: %d", d)
		}
		// 40 gold + 40 white < 120: 40 dark fill the rest.
		got = b.Select(60, []string{"tcp"})
		if len(got) != 120 || countDark(got) != 40 {
			t.Fatalf("len %d, dark %d", len(got), countDark(got))
		}
		for _, e := range got[:80] {
			if colors[e.Peer] == Dark {
				t.Fatal("dark before gold/white")
			}
		}
	})
}

// SelectRaw makes Select's choice, entry for entry, given the same random
// draws; an address held in White and in Dark is chosen once.
func TestSelectRawMatchesSelect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := selectBook(t, 300, false)
		b.mu.Lock()
		for _, it := range b.lists[White].items[:50] {
			b.addLocked(Dark, &item{addr: it.addr, peer: it.peer, key: it.key, ts: it.ts})
		}
		b.mu.Unlock()
		for _, mx := range []int{0, 1, 10, 100, 400, MaxReply} {
			for _, tr := range [][]string{nil, {"tcp"}, {"quic", "ws"}} {
				b.mu.Lock()
				b.rng = rand.New(rand.NewPCG(uint64(mx), 1))
				b.mu.Unlock()
				want := b.Select(mx, tr)
				b.mu.Lock()
				b.rng = rand.New(rand.NewPCG(uint64(mx), 1))
				b.mu.Unlock()
				got := b.SelectRaw(mx, tr)
				if len(got) != len(want) {
					t.Fatalf("max %d %v: %d raw entries, Select gives %d", mx, tr, len(got), len(want))
				}
				seen := make(map[string]bool)
				for i := range got {
					if string(got[i].Addr) != string(want[i].Addr.Bytes()) || !got[i].LastSeen.Equal(want[i].LastSeen) {
						t.Fatalf("max %d %v entry %d: %x %v, want %s %v", mx, tr, i, got[i].Addr, got[i].LastSeen, want[i].Addr, want[i].LastSeen)
					}
					if seen[string(got[i].Addr)] {
						t.Fatalf("max %d %v: %s chosen twice", mx, tr, want[i].Addr)
					}
					seen[string(got[i].Addr)] = true
				}
			}
		}
	})
}
