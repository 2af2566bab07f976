package host

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
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
	clk := clock.NewMock()
	g, err := newGater(clk, slog.New(slog.DiscardHandler), nil, nil)
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
	clk.Add(time.Hour + time.Second)
	if g.Banned(p, nil) || g.Banned("", ma.StringCast("/ip4/8.8.8.8/tcp/1")) {
		t.Error("ban did not expire")
	}
	if len(g.Bans()) != 0 {
		t.Errorf("expired bans listed: %v", g.Bans())
	}
}
