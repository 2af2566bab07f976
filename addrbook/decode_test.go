package addrbook

import (
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// parseAll is Decode without its shortcuts: ParseRaw on each entry.
func parseAll(raw []RawEntry) []Entry {
	var out []Entry
	for _, r := range raw {
		if e, ok := ParseRaw(r); ok {
			out = append(out, e)
		}
	}
	return out
}

// Decode gives what ParseRaw gives, entry for entry, whether an address
// comes from the book, from the /p2p/ cache, or is parsed in full; and
// bad bytes (cut, flipped, a /p2p/ after a path, a bare /p2p/) are
// refused the same way.
func TestDecodeMatchesParseRaw(t *testing.T) { synctest.Test(t, testDecodeMatchesParseRaw) }

func testDecodeMatchesParseRaw(t *testing.T) {
	b, _ := newTestBook(t, Config{})
	var stored []Entry
	for i := range 50 {
		stored = append(stored, entryN(t, i, epoch))
	}
	if b.Insert(testPeer(-1), stored) == 0 {
		t.Fatal("nothing stored")
	}
	p := testPeer(7).String()
	extra := []string{
		"/ip4/9.9.9.9/tcp/5/p2p/" + p, // cached peer, address not in the book
		"/dns/a.example/tcp/1/p2p/" + p,
		"unix",               // /p2p/ after a path component, built from bytes: refused
		"/p2p/" + p,          // no transport
		"/ip4/1.2.3.4/tcp/1", // no p2p
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 3 {
		var raw []RawEntry
		for i := range 120 {
			var bs []byte
			switch i % 3 {
			case 0:
				bs = entryN(t, rng.IntN(100), epoch).Addr.Bytes()
			case 1:
				s := extra[rng.IntN(len(extra))]
				if s == "unix" {
					bs = append(ma.StringCast("/unix/a/b").Bytes(), ma.StringCast("/p2p/"+p).Bytes()...)
				} else if a, err := ma.NewMultiaddr(s); err == nil {
					bs = a.Bytes()
				} else {
					bs = []byte(s)
				}
			default: // damaged bytes
				bs = entryN(t, rng.IntN(100), epoch).Addr.Bytes()
				switch rng.IntN(3) {
				case 0:
					bs = bs[:rng.IntN(len(bs))]
				case 1:
					bs[rng.IntN(len(bs))] ^= byte(1 + rng.IntN(255))
				default:
					bs = append(bs, byte(rng.IntN(256)))
				}
			}
			raw = append(raw, RawEntry{Addr: bs, LastSeen: epoch.Add(-time.Duration(i) * time.Second)})
		}
		got, want := b.Decode(raw), parseAll(raw)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d entries, ParseRaw gives %d", round, len(got), len(want))
		}
		for i := range got {
			if !got[i].Addr.Equal(want[i].Addr) || got[i].Peer != want[i].Peer || !got[i].LastSeen.Equal(want[i].LastSeen) {
				t.Fatalf("round %d entry %d: %s %s %v, want %s %s %v", round, i,
					got[i].Addr, got[i].Peer, got[i].LastSeen, want[i].Addr, want[i].Peer, want[i].LastSeen)
			}
		}
	}
	b.mu.Lock()
	n := len(b.p2p)
	b.mu.Unlock()
	if n == 0 || n > p2pCacheMax {
		t.Fatalf("cache holds %d components", n)
	}
}

// An address decoded from its bytes, from the book or parsed anew, is
// the same entry to Insert: inserting a stored list again stores nothing
// and counts every entry as known.
func TestDecodedEntriesDedup(t *testing.T) { synctest.Test(t, testDecodedEntriesDedup) }

func testDecodedEntriesDedup(t *testing.T) {
	b, _ := newTestBook(t, Config{})
	var es []Entry
	var raw []RawEntry
	for i := range 40 {
		e := entryN(t, i, epoch)
		es = append(es, e)
		raw = append(raw, RawEntry{Addr: e.Addr.Bytes(), LastSeen: e.LastSeen})
	}
	stored := b.Insert("", es)
	if stored == 0 {
		t.Fatal("nothing stored")
	}
	fresh, _ := newTestBook(t, Config{})
	for _, via := range []*Book{b, fresh} { // from the book; parsed anew
		before := b.Stats().Filtered[ReasonKnown]
		if n := b.Insert("", via.Decode(raw)); n != 0 {
			t.Fatalf("%d duplicates stored", n)
		}
		if got := b.Stats().Filtered[ReasonKnown] - before; got != uint64(stored) {
			t.Fatalf("%d counted as known, want %d", got, stored)
		}
	}
	mustInvariants(t, b)
}
