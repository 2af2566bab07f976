package addrbook

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// fillLists puts n distinct peers in each of Gold, White and Grey and
// returns the colour of every peer.
func fillLists(t testing.TB, b *Book, n int) map[peer.ID]Color {
	t.Helper()
	colors := make(map[peer.ID]Color)
	b.mu.Lock()
	defer b.mu.Unlock()
	i := 0
	for _, c := range []Color{Gold, White, Grey} {
		for range n {
			e := entryN(t, i, epoch.Add(-time.Duration(i)*time.Second))
			it, ok := newItem(e.Addr, e.Peer)
			if !ok {
				t.Fatalf("bad entry %v", e.Addr)
			}
			it.ts = e.LastSeen.Unix()
			b.addLocked(c, it)
			colors[e.Peer] = c
			i++
		}
	}
	return colors
}

func TestPickOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		if _, err := b.Pick(true, true, nil); !errors.Is(err, ErrNoHost) {
			t.Fatalf("empty book: %v", err)
		}
		colors := fillLists(t, b, 20)
		// known=true: 20 gold, then 20 white, then 20 grey, held (no release).
		for i := range 60 {
			e, err := b.Pick(true, true, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := []Color{Gold, White, Grey}[i/20]
			if colors[e.Peer] != want {
				t.Fatalf("pick %d from %s, want %s", i, colors[e.Peer], want)
			}
			if b.State(e.Peer) != Connect {
				t.Fatalf("picked peer in state %s", b.State(e.Peer))
			}
		}
		if _, err := b.Pick(true, true, nil); !errors.Is(err, ErrNoHost) {
			t.Fatalf("all held: %v", err)
		}

		// known=false: grey first; without allowGrey never grey.
		b2, _ := newTestBook(t, Config{})
		colors = fillLists(t, b2, 10)
		for range 10 {
			e, err := b2.Pick(false, true, nil)
			if err != nil || colors[e.Peer] != Grey {
				t.Fatalf("known=false: %v from %s", err, colors[e.Peer])
			}
		}
		e, err := b2.Pick(false, true, nil)
		if err != nil || colors[e.Peer] != Gold {
			t.Fatalf("known=false after grey: %v from %s", err, colors[e.Peer])
		}
		b3, _ := newTestBook(t, Config{})
		colors = fillLists(t, b3, 5)
		for range 10 {
			e, err := b3.Pick(false, false, nil)
			if err != nil || colors[e.Peer] == Grey {
				t.Fatalf("allowGrey=false returned %v from %s", err, colors[e.Peer])
			}
		}
		if _, err := b3.Pick(true, false, nil); !errors.Is(err, ErrNoHost) {
			t.Fatalf("allowGrey=false returned grey: %v", err)
		}
		// skip excludes.
		b4, _ := newTestBook(t, Config{})
		fillLists(t, b4, 5)
		if _, err := b4.Pick(true, true, func(Entry) bool { return true }); !errors.Is(err, ErrNoHost) {
			t.Fatalf("skip all: %v", err)
		}
	})
}

func TestPickProportions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		colors := fillLists(t, b, 500)
		rng := rand.New(rand.NewSource(1))
		const draws = 10000
		knownCount := 0
		perPeer := make(map[peer.ID]int)
		for range draws {
			known := rng.Intn(100) < 70
			e, err := b.Pick(known, true, nil)
			if err != nil {
				t.Fatal(err)
			}
			c := colors[e.Peer]
			if known != (c != Grey) {
				t.Fatalf("known=%v returned %s", known, c)
			}
			if c != Grey {
				knownCount++
			}
			perPeer[e.Peer]++
			b.Release(e.Peer)
		}
		share := float64(knownCount) / draws
		if math.Abs(share-0.70) > 0.02 {
			t.Fatalf("gold+white share %.3f, want 0.70 ± 0.02", share)
		}
		// Randomness: every gold peer is drawn some time (each has ~7 expected
		// draws out of 10000·0.7/500 ≈ 14; P(miss) is tiny).
		missed := 0
		for p, c := range colors {
			if c == Gold && perPeer[p] == 0 {
				missed++
			}
		}
		if missed > 5 {
			t.Fatalf("%d gold peers never drawn", missed)
		}
	})
}

func TestPickDistinctNetgroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		// 400 peers spread over 20 /16s (20 per group) in every list.
		b.mu.Lock()
		for i := range 400 {
			g := i % 20
			e := tcpEntry(t, fmt.Sprintf("%d.%d.%d.%d", 20+g, 7, i/256, i%256), testPeer(i), epoch)
			it, _ := newItem(e.Addr, e.Peer)
			it.ts = epoch.Unix()
			b.addLocked([]Color{Gold, White, Grey}[i%3], it)
		}
		b.mu.Unlock()
		used := make(map[string]bool)
		skip := func(e Entry) bool { return used[Netgroup(e.Addr)] }
		n := 0
		for {
			e, err := b.Pick(n%2 == 0, true, skip)
			if errors.Is(err, ErrNoHost) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			g := Netgroup(e.Addr)
			if used[g] {
				t.Fatalf("group %s returned twice", g)
			}
			used[g] = true
			n++
		}
		if n != 20 {
			t.Fatalf("picked %d groups, want 20", n)
		}
	})
}

func TestPickConcurrentNeverShares(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		fillLists(t, b, 10) // 30 peers for 8 pickers
		var mu sync.Mutex
		holding := make(map[peer.ID]bool)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 500 {
					e, err := b.Pick((g+i)%2 == 0, true, nil)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					if holding[e.Peer] {
						mu.Unlock()
						errs <- fmt.Errorf("peer %s picked twice", e.Peer)
						return
					}
					holding[e.Peer] = true
					mu.Unlock()
					mu.Lock()
					delete(holding, e.Peer)
					mu.Unlock()
					b.Release(e.Peer)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		mustInvariants(t, b)
	})
}

// Gold and White picks go netgroup first: 100 hosts of one /16 weigh as
// much as one host of another; UniformPicks and Localnet draw entries
// uniformly.
func TestPickNetgroupFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, c := range []struct {
			cfg   Config
			share float64 // expected share of the lone hosts
		}{
			{Config{}, 10.0 / 11},
			{Config{UniformPicks: true}, 10.0 / 110},
		} {
			b, _ := newTestBook(t, c.cfg)
			lone := map[peer.ID]bool{}
			b.mu.Lock()
			add := func(ip string, i int) {
				e := tcpEntry(t, ip, testPeer(i), epoch)
				it, _ := newItem(e.Addr, e.Peer)
				it.ts = epoch.Unix()
				b.addLocked(White, it)
			}
			for i := range 100 { // one crowded /16
				add(fmt.Sprintf("12.0.%d.%d", i/200, i%200+1), i)
			}
			for g := range 10 { // ten lone ones
				add(fmt.Sprintf("13.%d.0.1", g), 1000+g)
				lone[testPeer(1000+g)] = true
			}
			b.mu.Unlock()
			mustInvariants(t, b)
			const draws = 5000
			hits := 0
			for range draws {
				e, err := b.Pick(true, false, nil)
				if err != nil {
					t.Fatal(err)
				}
				if lone[e.Peer] {
					hits++
				}
				b.Release(e.Peer)
			}
			if got := float64(hits) / draws; math.Abs(got-c.share) > 0.03 {
				t.Fatalf("%+v: lone hosts drawn %.3f of the time, want %.3f", c.cfg, got, c.share)
			}
		}
		// A group whose hosts all fail skip is passed over.
		b, _ := newTestBook(t, Config{})
		fillLists(t, b, 30)
		for range 50 {
			e, err := b.Pick(true, false, func(e Entry) bool { return Netgroup(e.Addr) == "ip4:11.0" })
			if err == nil {
				t.Fatalf("picked %v from a skipped group", e.Addr)
			}
		}
	})
}
