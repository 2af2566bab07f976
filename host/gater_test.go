package host

import (
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func newPeer(t *testing.T) peer.ID {
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

func TestBlacklistEntries(t *testing.T) {
	t.Parallel()
	p, q := newPeer(t), newPeer(t)
	cases := []struct {
		entry string
		peer  peer.ID
		addr  string
		want  bool
	}{
		{p.String(), p, "/ip4/1.2.3.4/tcp/1", true},
		{p.String(), q, "/ip4/1.2.3.4/tcp/1", false},
		{"1.2.3.4", q, "/ip4/1.2.3.4/tcp/1", true},
		{"1.2.3.4", q, "/ip4/1.2.3.5/tcp/1", false},
		{"10.0.0.0/8", q, "/ip4/10.9.8.7/udp/5/quic-v1", true},
		{"/ip4/1.2.3.4/tcp/4000", q, "/ip4/1.2.3.4/tcp/4000", true},
		{"/ip4/1.2.3.4/tcp/4000", q, "/ip4/1.2.3.4/tcp/4001", false},
		{"/ip6/::1/tcp/9/p2p/" + p.String(), p, "/ip6/::1/tcp/9", true},
		{"/ip6/::1/tcp/9/p2p/" + p.String(), q, "/ip6/::1/tcp/9", false},
	}
	for _, c := range cases {
		e, err := ParseBlacklistEntry(c.entry)
		if err != nil {
			t.Fatalf("%s: %v", c.entry, err)
		}
		a, port := addrOf(ma.StringCast(c.addr))
		if got := e.matches(c.peer, a, port); got != c.want {
			t.Errorf("%s vs %s %s: %v, want %v", c.entry, c.peer.ShortString(), c.addr, got, c.want)
		}
	}
	for _, bad := range []string{"", "nonsense", "/dns4/example.com", "1.2.3.4/99", "/ip4/1.2.3.4/udt"} {
		if _, err := ParseBlacklistEntry(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBansExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := newGater(slog.New(slog.DiscardHandler), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := newPeer(t)
		ip := netip.MustParseAddr("8.8.8.8")
		g.Ban(p, ip, time.Hour, "test")
		if !g.Banned(p, nil) || !g.Banned("", ma.StringCast("/ip4/8.8.8.8/tcp/1")) {
			t.Fatal("ban not in force")
		}
		if g.InterceptPeerDial(p) {
			t.Error("dial to a banned peer allowed")
		}
		if len(g.Bans()) != 1 {
			t.Errorf("bans = %v", g.Bans())
		}
		time.Sleep(time.Hour + time.Second)
		if g.Banned(p, nil) || g.Banned("", ma.StringCast("/ip4/8.8.8.8/tcp/1")) {
			t.Error("ban did not expire")
		}
		if len(g.Bans()) != 0 {
			t.Errorf("expired bans listed: %v", g.Bans())
		}
	})
}

func newTestGater(t *testing.T, maxBans int) *Gater {
	t.Helper()
	g, err := newGater(slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if maxBans > 0 {
		g.maxBans = maxBans
	}
	return g
}

// An attacker with endless identities cannot grow the ban maps past the
// cap; when full, the ban expiring soonest goes, and a long ban stays.
func TestBanMapsCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if g := newTestGater(t, 0); g.maxBans != MaxBans {
			t.Fatalf("default cap %d, want MaxBans", g.maxBans)
		}
		const capacity = 300 // MaxBans in production; small keeps the test fast under -race
		g := newTestGater(t, capacity)
		long := newPeer(t)
		longIP := netip.MustParseAddr("9.9.9.9")
		g.Ban(long, longIP, 365*24*time.Hour, "long")
		for i := range capacity + 500 {
			var id peer.ID = peer.ID(fmt.Sprintf("fake-peer-%d", i)) // the map keys need not be real IDs
			ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			g.Ban(id, ip, time.Hour+time.Duration(i)*time.Millisecond, "flood")
		}
		peers, addrs := g.BanCounts()
		if peers > capacity || addrs > capacity {
			t.Fatalf("ban maps hold %d peers and %d addresses, cap %d", peers, addrs, capacity)
		}
		if !g.Banned(long, nil) || !g.Banned("", ma.StringCast("/ip4/9.9.9.9/tcp/1")) {
			t.Fatal("the long ban was evicted")
		}
		// The evicted ones are the soonest to expire: the first flood bans.
		if g.Banned(peer.ID("fake-peer-0"), nil) {
			t.Error("the ban expiring soonest was kept")
		}
		if !g.Banned(peer.ID(fmt.Sprintf("fake-peer-%d", capacity+499)), nil) {
			t.Error("the newest ban was evicted")
		}
		if g.EvictedBans() == 0 {
			t.Error("no eviction counted")
		}
	})
}

// Expired bans leave the maps without being looked up again: by Sweep,
// and by a later Ban.
func TestExpiredBansSwept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newTestGater(t, 0)
		for i := range 100 {
			g.Ban(peer.ID(fmt.Sprintf("p%d", i)), netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), time.Minute, "x")
		}
		time.Sleep(2 * time.Minute)
		if n := g.Sweep(); n != 200 {
			t.Fatalf("Sweep dropped %d, want 200", n)
		}
		if p, a := g.BanCounts(); p != 0 || a != 0 {
			t.Fatalf("left %d peer and %d address bans", p, a)
		}
		for i := range 100 {
			g.Ban(peer.ID(fmt.Sprintf("q%d", i)), netip.Addr{}, time.Minute, "x")
		}
		time.Sleep(2 * time.Minute)
		g.Ban(newPeer(t), netip.Addr{}, time.Hour, "y") // over a minute since the last sweep
		if p, _ := g.BanCounts(); p != 1 {
			t.Fatalf("after a later Ban: %d peer bans, want 1", p)
		}
	})
}

// A full map whose bans have expired makes room by sweeping, without
// evicting a live ban.
func TestFullBanMapSweepsBeforeEvicting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newTestGater(t, 10)
		for i := range 9 {
			g.Ban(peer.ID(fmt.Sprintf("old%d", i)), netip.Addr{}, time.Second, "x")
		}
		keep := newPeer(t)
		g.Ban(keep, netip.Addr{}, time.Hour, "keep")
		time.Sleep(2 * time.Second)
		g.Ban(newPeer(t), netip.Addr{}, time.Minute, "new")
		if !g.Banned(keep, nil) || g.EvictedBans() != 0 {
			t.Fatalf("live ban lost (evicted %d)", g.EvictedBans())
		}
	})
}
