package addrbook

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

var allStates = []State{Free, Insert, Refine, Connect, Suspend, Connected, Move}

// TestTransitionTable checks every (from, to) pair against DarkFi's table,
// written out here independently of allowed().
func TestTransitionTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		allowedFrom := map[State][]State{
			Insert:    {Free},
			Refine:    {Free, Suspend},
			Connect:   {Free},
			Connected: {Free, Connect, Refine, Move},
			Move:      {Free, Connect, Refine, Connected},
			Suspend:   {Move},
			Free:      allStates,
		}
		p := testPeer(1)
		for _, from := range allStates {
			for _, to := range allStates {
				b, _ := newTestBook(t, Config{})
				b.mu.Lock()
				b.setStateLocked(p, from)
				b.mu.Unlock()
				err := b.Transition(p, to)
				want := slices.Contains(allowedFrom[to], from)
				if want && err != nil {
					t.Errorf("%s -> %s: %v, want allowed", from, to, err)
				}
				if !want {
					if !errors.Is(err, ErrStateBlocked) {
						t.Errorf("%s -> %s: err %v, want ErrStateBlocked", from, to, err)
					}
					if got := b.State(p); got != from {
						t.Errorf("%s -> %s blocked but state is now %s", from, to, got)
					}
					continue
				}
				if got := b.State(p); got != to {
					t.Errorf("%s -> %s: state %s", from, to, got)
				}
			}
		}
	})
}

func TestStateAndColorStrings(t *testing.T) {
	t.Parallel()
	want := []string{"free", "insert", "refine", "connect", "suspend", "connected", "move"}
	for i, s := range allStates {
		if s.String() != want[i] {
			t.Errorf("State(%d) = %q, want %q", i, s, want[i])
		}
	}
	for i, n := range []string{"grey", "white", "gold", "black", "dark"} {
		c, err := ParseColor(n)
		if err != nil || c != Color(i) || c.String() != n {
			t.Errorf("ParseColor(%q) = %v, %v", n, c, err)
		}
	}
	if _, err := ParseColor("purple"); err == nil {
		t.Error("ParseColor accepted purple")
	}
	if State(99).String() == "" || Color(99).String() == "" {
		t.Error("out-of-range String is empty")
	}
}

func TestAbsentPeerIsFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		p := testPeer(7)
		if b.State(p) != Free {
			t.Fatalf("absent peer state %s", b.State(p))
		}
		if err := b.Transition(p, Suspend); !errors.Is(err, ErrStateBlocked) {
			t.Fatalf("Free -> Suspend: %v", err)
		}
	})
}

func TestPruneByAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, mock := newTestBook(t, Config{})
		for i := range 10 {
			b.Release(testPeer(i)) // Free records
		}
		if err := b.Transition(testPeer(100), Connect); err != nil {
			t.Fatal(err)
		}
		mock.Add(RegistryPruneAge - time.Second)
		b.Prune()
		if n := len(b.reg); n != 11 {
			t.Fatalf("pruned early: %d records", n)
		}
		mock.Add(2 * time.Second)
		b.Prune()
		if n := len(b.reg); n != 1 || b.State(testPeer(100)) != Connect {
			t.Fatalf("after age prune: %d records, connect peer %s", n, b.State(testPeer(100)))
		}
	})
}

func TestPruneOverflowKeepsActive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, mock := newTestBook(t, Config{})
		const active = 500
		for i := range active {
			if err := b.Transition(testPeer(i), Connect); err != nil {
				t.Fatal(err)
			}
		}
		for i := active; i < RegistryMax+2000; i++ {
			if i%1000 == 0 {
				mock.Add(time.Second) // the mock sleeps 1 ms per Add
			}
			b.Release(testPeer(i))
			if n := len(b.reg); n > RegistryMax {
				t.Fatalf("registry holds %d > %d", n, RegistryMax)
			}
		}
		for i := range active {
			if b.State(testPeer(i)) != Connect {
				t.Fatalf("active record %d pruned", i)
			}
		}
		// The newest Free record survives, the oldest is gone.
		if _, ok := b.reg[testPeer(RegistryMax+1999)]; !ok {
			t.Fatal("newest Free record pruned")
		}
		if _, ok := b.reg[testPeer(active)]; ok {
			t.Fatal("oldest Free record kept")
		}
		b.Prune()
		if n := len(b.reg); n > RegistryMax {
			t.Fatalf("after Prune: %d", n)
		}
	})
}

func TestFreeSuspended(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		for i := range 3 {
			p := testPeer(i)
			if err := b.Transition(p, Move); err != nil {
				t.Fatal(err)
			}
			if err := b.Transition(p, Suspend); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Transition(testPeer(9), Connect); err != nil {
			t.Fatal(err)
		}
		if n := b.FreeSuspended(); n != 3 {
			t.Fatalf("freed %d", n)
		}
		if b.State(testPeer(0)) != Free || b.State(testPeer(9)) != Connect {
			t.Fatal("wrong states after FreeSuspended")
		}
	})
}
