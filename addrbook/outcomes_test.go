package addrbook

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func mustColor(t *testing.T, b *Book, e Entry, want Color) {
	t.Helper()
	c, ok := b.Contains(e.Peer)
	if !ok || c != want {
		t.Fatalf("peer in %v (found %v), want %s", c, ok, want)
	}
}

// TestRefineSuspendedHost is DarkFi's regression (darkfi-net.md 3.7): a
// host that failed outbound (Suspend) and then passes refinement must
// become White and be dialable again.
func TestRefineSuspendedHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, mock := newTestBook(t, Config{})
		e := entryN(t, 1, epoch.Add(-time.Hour))
		b.Insert("", []Entry{e})
		picked, err := b.Pick(false, true, nil)
		if err != nil || picked.Peer != e.Peer {
			t.Fatalf("pick: %v", err)
		}
		if err := b.Failed(picked); err != nil {
			t.Fatal(err)
		}
		mustColor(t, b, e, Grey)
		if b.State(e.Peer) != Suspend {
			t.Fatalf("after Failed: %s", b.State(e.Peer))
		}
		if _, err := b.Pick(false, true, nil); !errors.Is(err, ErrNoHost) {
			t.Fatal("suspended host picked")
		}
		if got := b.Entries(Grey)[0].LastSeen; !got.Equal(e.LastSeen) {
			t.Fatalf("Failed changed last seen to %v", got)
		}

		mock.Add(time.Minute)
		r, err := b.BeginRefine()
		if err != nil || r.Peer != e.Peer {
			t.Fatalf("BeginRefine: %v", err)
		}
		if b.State(e.Peer) != Refine {
			t.Fatalf("refining state %s", b.State(e.Peer))
		}
		if _, err := b.BeginRefine(); !errors.Is(err, ErrNoHost) {
			t.Fatal("host refined twice at once")
		}
		b.Refined(r, true)
		mustColor(t, b, e, White)
		if b.State(e.Peer) != Free {
			t.Fatalf("after Refined: %s", b.State(e.Peer))
		}
		if got := b.Entries(White)[0].LastSeen; !got.Equal(mock.Now()) {
			t.Fatalf("refined last seen %v, want now", got)
		}
		again, err := b.Pick(true, false, nil)
		if err != nil || again.Peer != e.Peer {
			t.Fatalf("refined host not pickable: %v", err)
		}
		if err := b.Connected(again); err != nil {
			t.Fatal(err)
		}
		mustColor(t, b, e, Gold)
		mustInvariants(t, b)
	})
}

func TestRefineFailureRemoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		e := entryN(t, 1, epoch)
		b.Insert("", []Entry{e})
		r, err := b.BeginRefine()
		if err != nil {
			t.Fatal(err)
		}
		b.Refined(r, false)
		if _, ok := b.Contains(e.Peer); ok || b.State(e.Peer) != Free {
			t.Fatal("failed refinement kept the host")
		}
		// A result for a host not being refined is ignored.
		b.Insert("", []Entry{e})
		b.Refined(e, false)
		mustColor(t, b, e, Grey)
		// Undialable grey entries are not refined.
		b2, _ := newTestBook(t, Config{})
		b2.mu.Lock()
		it, _ := newItem(mustMA(t, "/ip4/8.8.8.8/udp/1/quic-v1/webtransport/p2p/"+testPeer(1).String()), "")
		b2.addLocked(Grey, it)
		b2.mu.Unlock()
		if _, err := b2.BeginRefine(); !errors.Is(err, ErrNoHost) {
			t.Fatalf("undialable refined: %v", err)
		}
	})
}

func TestConnectedDisconnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, mock := newTestBook(t, Config{})
		e := entryN(t, 1, epoch.Add(-time.Hour))
		quic := Entry{Addr: mustMA(t, "/ip4/11.0.0.1/udp/4000/quic-v1/p2p/"+e.Peer.String()), Peer: e.Peer, LastSeen: epoch}
		b.Insert("", []Entry{e, quic})
		if b.Len(Grey) != 2 {
			t.Fatalf("grey %d", b.Len(Grey))
		}
		p, err := b.Pick(false, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		mock.Add(time.Minute)
		if err := b.Connected(p); err != nil {
			t.Fatal(err)
		}
		if b.Len(Gold) != 2 || b.Len(Grey) != 0 || b.State(e.Peer) != Connected {
			t.Fatalf("gold %d grey %d state %s", b.Len(Gold), b.Len(Grey), b.State(e.Peer))
		}
		if got := b.Entries(Gold)[0]; !got.Addr.Equal(p.Addr) || !got.LastSeen.Equal(mock.Now()) {
			t.Fatalf("connected entry %v", got)
		}
		mock.Add(time.Minute)
		b.Disconnected(p)
		if b.Len(Grey) != 2 || b.Len(Gold) != 0 || b.State(e.Peer) != Free {
			t.Fatalf("after disconnect grey %d gold %d state %s", b.Len(Grey), b.Len(Gold), b.State(e.Peer))
		}
		if got := b.Entries(Grey)[0].LastSeen; !got.Equal(mock.Now().Add(-time.Minute)) {
			t.Fatalf("disconnect changed last seen: %v", got)
		}
		mustInvariants(t, b)

		// Direct sessions pass an address without /p2p and a peer.
		d := Entry{Addr: mustMA(t, "/ip4/11.0.0.9/tcp/5"), Peer: testPeer(9), LastSeen: mock.Now()}
		if err := b.Transition(d.Peer, Connect); err != nil {
			t.Fatal(err)
		}
		if err := b.Connected(d); err != nil {
			t.Fatal(err)
		}
		mustColor(t, b, d, Gold)
		if err := b.Connected(Entry{Addr: mustMA(t, "/ip4/11.0.0.9/tcp/5")}); !errors.Is(err, ErrInvalidAddr) {
			t.Fatalf("no peer: %v", err)
		}
		// Connected from Suspend is blocked and changes nothing.
		s := entryN(t, 5, epoch)
		b.Insert("", []Entry{s})
		if err := b.Transition(s.Peer, Move); err != nil {
			t.Fatal(err)
		}
		if err := b.Transition(s.Peer, Suspend); err != nil {
			t.Fatal(err)
		}
		if err := b.Connected(s); !errors.Is(err, ErrStateBlocked) {
			t.Fatalf("Connected from Suspend: %v", err)
		}
		if err := b.Failed(s); !errors.Is(err, ErrStateBlocked) {
			t.Fatalf("Failed from Suspend: %v", err)
		}
		mustColor(t, b, s, Grey)
		mustInvariants(t, b)
	})
}

func TestFailedInsertsMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		e := entryN(t, 1, epoch.Add(-time.Hour))
		if err := b.Transition(e.Peer, Connect); err != nil {
			t.Fatal(err)
		}
		if err := b.Failed(e); err != nil {
			t.Fatal(err)
		}
		mustColor(t, b, e, Grey)
		if b.State(e.Peer) != Suspend {
			t.Fatal("not suspended")
		}
		// White → Grey on failure.
		w := entryN(t, 2, epoch)
		b.mu.Lock()
		it, _ := newItem(w.Addr, w.Peer)
		it.ts = epoch.Unix()
		b.addLocked(White, it)
		b.mu.Unlock()
		p, err := b.Pick(true, false, nil)
		if err != nil || p.Peer != w.Peer {
			t.Fatalf("pick white: %v", err)
		}
		if err := b.Failed(p); err != nil {
			t.Fatal(err)
		}
		mustColor(t, b, w, Grey)
		mustInvariants(t, b)
	})
}

func TestRecheckWhite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, mock := newTestBook(t, Config{})
		b.mu.Lock()
		for i := range 3 {
			e := entryN(t, i, epoch.Add(-time.Duration(i)*time.Hour))
			it, _ := newItem(e.Addr, e.Peer)
			it.ts = e.LastSeen.Unix()
			b.addLocked(White, it)
		}
		b.mu.Unlock()
		oldest := entryN(t, 2, epoch)
		r, err := b.RecheckWhite()
		if err != nil || r.Peer != oldest.Peer {
			t.Fatalf("RecheckWhite: %v, %v", r.Peer, err)
		}
		mock.Add(time.Minute)
		b.Rechecked(r, true)
		if got := b.Entries(White)[0]; got.Peer != oldest.Peer || !got.LastSeen.Equal(mock.Now()) {
			t.Fatalf("rechecked entry not refreshed: %v", got)
		}
		r, err = b.RecheckWhite()
		if err != nil || r.Peer != testPeer(1) {
			t.Fatalf("second RecheckWhite: %v", err)
		}
		b.Rechecked(r, false)
		mustColor(t, b, r, Grey)
		if b.State(r.Peer) != Free {
			t.Fatal("not freed")
		}
		mustInvariants(t, b)
	})
}

func TestBanAndRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		e := entryN(t, 1, epoch)
		b.Insert("", []Entry{e})
		if err := b.Transition(e.Peer, Connect); err != nil {
			t.Fatal(err)
		}
		if err := b.Connected(e); err != nil {
			t.Fatal(err)
		}
		b.Ban(e.Peer, nil)
		mustColor(t, b, e, Black)
		if b.Len(Gold) != 0 {
			t.Fatal("banned peer still gold")
		}
		if err := b.Connected(e); !errors.Is(err, ErrBanned) {
			t.Fatalf("Connected for a banned peer: %v", err)
		}
		b.Disconnected(e)
		mustColor(t, b, e, Black)

		// A peer with no entries gets a bare entry; an address without /p2p
		// is recorded with one; a local address is not recorded.
		p := testPeer(2)
		b.Ban(p, mustMA(t, "/ip4/8.8.8.8/tcp/1"))
		got := 0
		for _, be := range b.Entries(Black) {
			if be.Peer == p {
				got++
				if be.Addr.String() != "/ip4/8.8.8.8/tcp/1/p2p/"+p.String() {
					t.Fatalf("ban entry %s", be.Addr)
				}
			}
		}
		if got != 1 {
			t.Fatalf("%d ban entries", got)
		}
		q := testPeer(3)
		b.Ban(q, mustMA(t, "/ip4/127.0.0.1/tcp/1"))
		for _, be := range b.Entries(Black) {
			if be.Peer == q && be.Addr.String() != "/p2p/"+q.String() {
				t.Fatalf("local address banned: %s", be.Addr)
			}
		}
		if b.Insert("", []Entry{entryN(t, 3, epoch)}) != 0 {
			t.Fatal("banned peer inserted")
		}
		if n := b.Remove(q); n != 1 {
			t.Fatalf("Remove removed %d", n)
		}
		if b.Insert("", []Entry{entryN(t, 3, epoch)}) != 1 {
			t.Fatal("removed ban still applies")
		}
		mustInvariants(t, b)
	})
}
