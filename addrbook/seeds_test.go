package addrbook

import (
	"testing"
	"testing/synctest"
)

// A seed added at run time leaves every list but Black and is refused by
// Insert; removed, it may enter the lists again.
func TestAddRemoveSeed(t *testing.T) { synctest.Test(t, testAddRemoveSeed) }

func testAddRemoveSeed(t *testing.T) {
	b, _ := newTestBook(t, Config{})
	seed, banned := testPeer(1), testPeer(2)
	b.Insert("", []Entry{entryN(t, 1, epoch), entryN(t, 2, epoch)})
	b.Ban(banned, entryN(t, 2, epoch).Addr)
	if _, ok := b.Contains(seed); !ok {
		t.Fatal("setup: the seed-to-be is not in the book")
	}
	if !b.AddSeed(seed) || b.AddSeed(seed) {
		t.Fatal("AddSeed should report true once, then false")
	}
	if !b.IsSeed(seed) {
		t.Error("IsSeed = false after AddSeed")
	}
	if c, ok := b.Contains(seed); ok {
		t.Errorf("an added seed is still in %s", c)
	}
	if n := b.Insert("", []Entry{entryN(t, 1, epoch)}); n != 0 {
		t.Errorf("Insert stored %d entries of a seed", n)
	}
	// A seed that was banned stays banned: being a seed does not lift a ban.
	b.AddSeed(banned)
	if c, ok := b.Contains(banned); !ok || c != Black {
		t.Errorf("a banned peer made a seed: in %v (%v), want Black", c, ok)
	}
	if !b.RemoveSeed(seed) || b.RemoveSeed(seed) {
		t.Fatal("RemoveSeed should report true once, then false")
	}
	if n := b.Insert("", []Entry{entryN(t, 1, epoch)}); n != 1 {
		t.Errorf("Insert stored %d entries of a removed seed, want 1", n)
	}
	if err := checkInvariants(b); err != nil {
		t.Error(err)
	}
}
