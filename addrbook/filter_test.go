package addrbook

import (
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// One address per non-global range of darkfi-net.md 5.4.
var nonGlobal = []struct{ name, ip string }{
	{"this network 0/8", "0.1.2.3"},
	{"private 10/8", "10.1.2.3"},
	{"CGNAT 100.64/10", "100.64.1.2"},
	{"CGNAT 100.127", "100.127.255.254"},
	{"loopback 127/8", "127.0.0.1"},
	{"link-local 169.254/16", "169.254.1.1"},
	{"private 172.16/12", "172.16.5.4"},
	{"private 172.31", "172.31.255.1"},
	{"protocol assignments 192.0.0/24", "192.0.0.1"},
	{"TEST-NET-1 192.0.2/24", "192.0.2.1"},
	{"private 192.168/16", "192.168.1.1"},
	{"benchmarking 198.18/15", "198.19.1.1"},
	{"TEST-NET-2 198.51.100/24", "198.51.100.7"},
	{"TEST-NET-3 203.0.113/24", "203.0.113.9"},
	{"reserved 240/4", "240.1.2.3"},
	{"broadcast", "255.255.255.255"},
	{"multicast 224/4", "224.0.0.1"},
	{"v6 unspecified", "::"},
	{"v6 loopback", "::1"},
	{"v4-mapped private", "::ffff:10.0.0.1"},
	{"v4-mapped loopback", "::ffff:127.0.0.1"},
	{"local-use translation 64:ff9b:1::/48", "64:ff9b:1::1"},
	{"discard 100::/64", "100::1"},
	{"IETF 2001::/23", "2001:2::1"},
	{"IETF 2001:1::3", "2001:1::3"},
	{"Teredo 2001::/32", "2001::1"},
	{"6to4 2002::/16", "2002:101:101::1"},
	{"documentation 2001:db8::/32", "2001:db8::1"},
	{"documentation 3fff::/20", "3fff:fff::1"},
	{"segment routing 5f00::/16", "5f00::1"},
	{"ULA fc00::/7", "fd00::1"},
	{"ULA fc00", "fc00::1"},
	{"link-local fe80::/10", "fe80::1"},
	{"multicast ff00::/8", "ff02::1"},
}

var global = []string{
	"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1", "172.15.0.1", "172.32.0.1",
	"192.0.0.9", "192.0.0.10", "198.17.255.255", "198.20.0.1", "223.255.255.255",
	"::ffff:8.8.8.8", "2001:4860:4860::8888", "2001:1::1", "2001:1::2", "2001:3::1",
	"2001:4:112::1", "2001:20::1", "2001:3f::1", "64:ff9b::808:808", "2001:db9::1",
	"3fff:1000::1", "2600::1", "fe00::1",
}

func TestIsGlobalIP(t *testing.T) {
	t.Parallel()
	for _, c := range nonGlobal {
		if isGlobalIP(netip.MustParseAddr(c.ip)) {
			t.Errorf("%s (%s) classified global", c.name, c.ip)
		}
	}
	for _, ip := range global {
		if !isGlobalIP(netip.MustParseAddr(ip)) {
			t.Errorf("%s classified non-global", ip)
		}
	}
}

func ipEntry(t *testing.T, ip string, i int) Entry {
	return tcpEntry(t, netip.MustParseAddr(ip).String(), testPeer(i), epoch.Add(-time.Hour))
}

func TestFilterNonGlobalRanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for i, c := range nonGlobal {
			b, _ := newTestBook(t, Config{})
			if n := b.Insert("", []Entry{ipEntry(t, c.ip, i)}); n != 0 {
				t.Errorf("%s (%s) stored", c.name, c.ip)
				continue
			}
			if b.Stats().Filtered[ReasonLocal] != 1 {
				t.Errorf("%s: filtered %v", c.name, b.Stats().Filtered)
			}
		}
		for i, ip := range global {
			b, _ := newTestBook(t, Config{})
			if n := b.Insert("", []Entry{ipEntry(t, ip, i)}); n != 1 {
				t.Errorf("global %s not stored: %v", ip, b.Stats().Filtered)
			}
		}
	})
}

func TestFilterLocalhostNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		for i, name := range []string{"localhost", "LOCALHOST", "localhost.localdomain", "foo.localhost"} {
			e := Entry{Addr: mustMA(t, fmt.Sprintf("/dns/%s/tcp/1/p2p/%s", name, testPeer(i))), LastSeen: epoch}
			if b.Insert("", []Entry{e}) != 0 {
				t.Errorf("%s stored", name)
			}
		}
		e := Entry{Addr: mustMA(t, "/dns4/example.com/tcp/1/p2p/"+testPeer(9).String()), LastSeen: epoch}
		if b.Insert("", []Entry{e}) != 1 {
			t.Error("example.com not stored")
		}
		zoned := Entry{Addr: mustMA(t, "/ip6zone/eth0/ip6/fe80::1/tcp/1/p2p/"+testPeer(10).String()), LastSeen: epoch}
		if b.Insert("", []Entry{zoned}) != 0 {
			t.Error("zoned address stored")
		}
	})
}

func TestFilterLocalnet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{Localnet: true})
		ips := []string{"127.0.0.1", "10.0.0.1", "192.168.1.2", "::1", "fd00::1"}
		for i, ip := range ips {
			if b.Insert("", []Entry{ipEntry(t, ip, i)}) != 1 {
				t.Errorf("localnet: %s not stored", ip)
			}
		}
		e := Entry{Addr: mustMA(t, "/dns/localhost/tcp/1/p2p/"+testPeer(50).String()), LastSeen: epoch}
		if b.Insert("", []Entry{e}) != 1 {
			t.Error("localnet: localhost not stored")
		}
	})
}

func TestFilterIdentities(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		self, seed, manual, refused := testPeer(1), testPeer(2), testPeer(3), testPeer(4)
		own := mustMA(t, "/ip4/8.8.8.8/tcp/4000")
		b, _ := newTestBook(t, Config{
			Self:  self,
			Seeds: []peer.ID{seed},
			Node:  filterNode{manual: manual, refused: refused, own: own},
		})
		cases := []struct {
			name   string
			e      Entry
			reason string
		}{
			{"self", tcpEntry(t, "1.2.3.4", self, epoch), ReasonSelf},
			{"seed", tcpEntry(t, "1.2.3.5", seed, epoch), ReasonSeed},
			{"manual", tcpEntry(t, "1.2.3.6", manual, epoch), ReasonManual},
			{"refused", tcpEntry(t, "1.2.3.7", refused, epoch), ReasonRefused},
			{"own addr", tcpEntry(t, "8.8.8.8", testPeer(5), epoch), ReasonOwnAddr},
			{"no p2p", Entry{Addr: mustMA(t, "/ip4/1.2.3.8/tcp/1"), LastSeen: epoch}, ReasonInvalid},
			{"p2p only", Entry{Addr: mustMA(t, "/p2p/"+testPeer(6).String()), LastSeen: epoch}, ReasonInvalid},
			{"peer mismatch", Entry{Addr: tcpEntry(t, "1.2.3.9", testPeer(7), epoch).Addr, Peer: testPeer(8)}, ReasonInvalid},
			{"nil addr", Entry{}, ReasonInvalid},
		}
		for _, c := range cases {
			before := b.Stats().Filtered[c.reason]
			if b.Insert("", []Entry{c.e}) != 0 {
				t.Errorf("%s: stored", c.name)
			}
			if b.Stats().Filtered[c.reason] != before+1 {
				t.Errorf("%s: not counted as %s: %v", c.name, c.reason, b.Stats().Filtered)
			}
		}
		// Same IP as our address but another port or transport is fine.
		if b.Insert("", []Entry{{Addr: mustMA(t, "/ip4/8.8.8.8/tcp/4001/p2p/"+testPeer(20).String())}}) != 1 {
			t.Error("other port dropped")
		}
		if b.Insert("", []Entry{{Addr: mustMA(t, "/ip4/8.8.8.8/udp/4000/quic-v1/p2p/"+testPeer(21).String())}}) != 1 {
			t.Error("other transport dropped")
		}
		mustInvariants(t, b)
	})
}

func TestFilterUndialableGoesDark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, mock := newTestBook(t, Config{})
		wt := Entry{Addr: mustMA(t, "/ip4/8.8.8.8/udp/1/quic-v1/webtransport/p2p/"+testPeer(1).String()), LastSeen: epoch}
		if n := b.Insert("", []Entry{wt}); n != 0 {
			t.Fatal("webtransport entry stored in grey")
		}
		if b.Len(Dark) != 1 || b.Len(Grey) != 0 || b.Stats().Dark != 1 {
			t.Fatalf("dark %d grey %d", b.Len(Dark), b.Len(Grey))
		}
		// Old dark entries are refreshed away on the next dark insert.
		mock.Add(DarkMaxAge + time.Second)
		wt2 := Entry{Addr: mustMA(t, "/ip4/8.8.4.4/udp/1/quic-v1/webtransport/p2p/"+testPeer(2).String()), LastSeen: mock.Now()}
		b.Insert("", []Entry{wt2})
		if got := b.Entries(Dark); len(got) != 1 || !got[0].Addr.Equal(wt2.Addr) {
			t.Fatalf("dark after refresh: %v", got)
		}

		// A custom Dialable: an entry that becomes dialable leaves Dark.
		dialable := false
		b2, _ := newTestBook(t, Config{Dialer: DialableFunc(func(ma.Multiaddr) bool { return dialable })})
		e := entryN(t, 1, mock.Now()) // the bubble's time moved on above
		b2.Insert("", []Entry{e})
		if b2.Len(Dark) != 1 || b2.Len(Grey) != 0 {
			t.Fatal("undialable tcp not in dark")
		}
		dialable = true
		if b2.Insert("", []Entry{e}) != 1 || b2.Len(Dark) != 0 {
			t.Fatal("dialable entry not moved out of dark")
		}
		mustInvariants(t, b2)
	})
}

// An onion address is valid in the book: dark without a proxy (the
// default Dialable), grey when Dialable says the node can reach it.
func TestFilterOnion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		onion := Entry{Addr: mustMA(t, "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:26661/p2p/"+testPeer(3).String()), LastSeen: epoch}
		b, _ := newTestBook(t, Config{})
		if b.Insert("", []Entry{onion}) != 0 || b.Len(Dark) != 1 {
			t.Fatalf("onion without a proxy: grey %d dark %d, want it dark", b.Len(Grey), b.Len(Dark))
		}
		if got := b.Select(8, []string{"tcp"}); len(got) != 1 || !got[0].Addr.Equal(onion.Addr) {
			t.Fatalf("dark onion not propagated: %v", got)
		}
		proxied, _ := newTestBook(t, Config{Dialer: DialableFunc(func(a ma.Multiaddr) bool { return Transport(a) == TransportOnion3 })})
		if proxied.Insert("", []Entry{onion}) != 1 || proxied.Len(Grey) != 1 {
			t.Fatalf("onion with a proxy: grey %d dark %d, want it grey", proxied.Len(Grey), proxied.Len(Dark))
		}
		mustInvariants(t, proxied)
	})
}

func TestFilterKnownAndClamp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, mock := newTestBook(t, Config{})
		var stored []int
		b.OnStore(func(n int) { stored = append(stored, n) })
		e := entryN(t, 1, epoch.Add(-time.Hour))
		if b.Insert("", []Entry{e, e}) != 1 {
			t.Fatal("not stored once")
		}
		// Known: no last_seen update.
		newer := e
		newer.LastSeen = epoch
		if b.Insert("", []Entry{newer}) != 0 {
			t.Fatal("known entry stored again")
		}
		if got := b.Entries(Grey)[0].LastSeen; !got.Equal(epoch.Add(-time.Hour)) {
			t.Fatalf("known entry updated to %v", got)
		}
		if b.Stats().Filtered[ReasonKnown] != 2 {
			t.Fatalf("known count %v", b.Stats().Filtered)
		}
		// Future last_seen is clamped to now.
		future := entryN(t, 2, epoch.Add(1000*time.Hour))
		b.Insert("", []Entry{future})
		c, _ := b.Contains(future.Peer)
		if c != Grey {
			t.Fatal("future entry not stored")
		}
		for _, got := range b.Entries(Grey) {
			if got.LastSeen.After(mock.Now()) {
				t.Fatalf("entry %v dated after now", got)
			}
		}
		if b.Stats().Clamped != 1 {
			t.Fatalf("clamped %d", b.Stats().Clamped)
		}
		if b.Entries(Grey)[0].Peer != future.Peer || !b.Entries(Grey)[0].LastSeen.Equal(mock.Now()) {
			t.Fatal("clamped entry not dated now")
		}
		if len(stored) != 2 || stored[0] != 1 || stored[1] != 1 {
			t.Fatalf("OnStore calls %v", stored)
		}
		// A peer in White or Gold takes no new grey address.
		if err := b.Connected(e); err != nil {
			t.Fatal(err)
		}
		other := Entry{Addr: mustMA(t, "/ip4/11.0.0.1/udp/4000/quic-v1/p2p/"+e.Peer.String()), LastSeen: epoch}
		if b.Insert("", []Entry{other}) != 0 {
			t.Fatal("gold peer got a grey address")
		}
		// Black.
		b.Ban(testPeer(3), nil)
		if b.Insert("", []Entry{entryN(t, 3, epoch)}) != 0 || b.Stats().Filtered[ReasonBlack] != 1 {
			t.Fatal("banned peer stored")
		}
		mustInvariants(t, b)
	})
}

func TestInsertBusyAndActivePeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		held := entryN(t, 1, epoch)
		if err := b.Transition(held.Peer, Insert); err != nil {
			t.Fatal(err)
		}
		if b.Insert("", []Entry{held}) != 0 || b.Stats().Filtered[ReasonBusy] != 1 {
			t.Fatal("entry of a peer held in Insert stored")
		}
		// An inbound Connected peer's advertised address is stored, and its
		// state is kept.
		in := entryN(t, 2, epoch)
		if err := b.Transition(in.Peer, Connected); err != nil {
			t.Fatal(err)
		}
		if b.Insert("", []Entry{in}) != 1 || b.State(in.Peer) != Connected {
			t.Fatal("connected peer's address not stored, or its state changed")
		}
		// Inserting a new peer leaves no registry record behind.
		b.Insert("", []Entry{entryN(t, 3, epoch)})
		if _, ok := b.reg[testPeer(3)]; ok {
			t.Fatal("insert left a registry record")
		}
	})
}

// The per-source quota, on a flat greylist (with buckets, one source and
// one /16 fill one bucket first: see TestBucketsConfineSource).
func TestSourceQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flat := Config{FlatGreylist: true}
		b, _ := newTestBook(t, flat)
		src := testPeer(-1)
		var es []Entry
		for i := range 10000 {
			es = append(es, entryN(t, i, epoch.Add(-time.Duration(i)*time.Second)))
		}
		n := b.Insert(src, es)
		quota := GreyMax / 10
		if n != quota || b.Len(Grey) != quota {
			t.Fatalf("one source stored %d (grey %d), quota %d", n, b.Len(Grey), quota)
		}
		if got := b.Stats().QuotaDropped; got != uint64(10000-quota) {
			t.Fatalf("quota dropped %d", got)
		}
		mustInvariants(t, b)

		// 100 sources fill grey normally.
		b2, _ := newTestBook(t, flat)
		for s := range 100 {
			b2.Insert(testPeer(-2-s), es[s*100:(s+1)*100])
		}
		if b2.Len(Grey) != GreyMax || b2.Stats().QuotaDropped != 0 {
			t.Fatalf("100 sources: grey %d, quota dropped %d", b2.Len(Grey), b2.Stats().QuotaDropped)
		}
		mustInvariants(t, b2)

		// Entries that leave grey free their source's quota.
		b3, _ := newTestBook(t, Config{SourceQuota: 2, FlatGreylist: true})
		b3.Insert(src, es[:5])
		if b3.Len(Grey) != 2 {
			t.Fatalf("quota 2 stored %d", b3.Len(Grey))
		}
		b3.Remove(b3.Entries(Grey)[0].Peer)
		if b3.Insert(src, es[:5]) != 1 {
			t.Fatal("freed quota not reusable")
		}
		mustInvariants(t, b3)
	})
}

// A flat greylist (Localnet, FlatGreylist) keeps its newest GreyMax
// entries; bucket eviction is TestBucketEviction's.
func TestCapsKeepNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{FlatGreylist: true})
		const n = 10 * GreyMax
		var es []Entry
		for i := range n {
			// Interleaved ages, so eviction order matters.
			age := time.Duration((i*7919)%n) * time.Second
			es = append(es, entryN(t, i, epoch.Add(-age)))
		}
		for i := 0; i < n; i += 500 {
			b.Insert("", es[i:i+500])
		}
		got := b.Entries(Grey)
		if len(got) != GreyMax {
			t.Fatalf("grey holds %d", len(got))
		}
		for i, e := range got {
			if want := epoch.Add(-time.Duration(i) * time.Second); !e.LastSeen.Equal(want) {
				t.Fatalf("entry %d last seen %v, want %v", i, e.LastSeen, want)
			}
		}
		mustInvariants(t, b)

		// Every list's cap, at the list level.
		for c, max := range listCaps {
			l := newHostList(max)
			for i := range 10 * max {
				ts := int64((i * 7919) % (10 * max))
				l.add(&item{peer: peer.ID(fmt.Sprint(i % 1000)), key: fmt.Sprint(i), ts: ts})
			}
			if l.len() != max {
				t.Fatalf("%s holds %d, cap %d", Color(c), l.len(), max)
			}
			for i, it := range l.items {
				if it.ts != int64(10*max-1-i) {
					t.Fatalf("%s: position %d holds ts %d", Color(c), i, it.ts)
				}
			}
		}
	})
}

func TestTransportAndNetgroup(t *testing.T) {
	t.Parallel()
	p := testPeer(1).String()
	cases := []struct{ addr, transport, group string }{
		{"/ip4/1.2.3.4/tcp/1/p2p/" + p, "tcp", "ip4:1.2"},
		{"/ip4/1.2.3.4/udp/1/quic-v1", "quic", "ip4:1.2"},
		{"/ip4/1.2.3.4/tcp/1/ws/p2p/" + p, "ws", "ip4:1.2"},
		{"/ip4/1.2.3.4/tcp/1/wss", "ws", "ip4:1.2"},
		{"/ip4/1.2.3.4/tcp/1/tls/ws", "ws", "ip4:1.2"},
		{"/ip4/1.2.3.4/tcp/1/tls/sni/a.b/ws", "ws", "ip4:1.2"},
		{"/ip6/2001:db8:1:2::1/tcp/1", "tcp", "ip6:2001:0db8"},
		{"/ip6/::ffff:9.8.7.6/tcp/1", "tcp", "ip4:9.8"},
		{"/dns/Example.COM./tcp/1", "tcp", "dns:example.com"},
		{"/dns4/x.org/udp/1/quic-v1", "quic", "dns:x.org"},
		{"/ip4/1.2.3.4/udp/1/quic-v1/webtransport", "", "ip4:1.2"},
		{"/ip4/1.2.3.4/udp/1/quic", "", "ip4:1.2"},
		{"/ip4/1.2.3.4/tcp/1/p2p/" + p + "/p2p-circuit/p2p/" + testPeer(2).String(), "circuit", "circuit:ip4:1.2"},
		{"/ip4/1.2.3.4/udp/1/quic-v1/p2p/" + p + "/p2p-circuit", "circuit", "circuit:ip4:1.2"},
		{"/ip4/1.2.3.4/udp/1/quic-v1/webtransport/p2p/" + p + "/p2p-circuit", "", "ip4:1.2"},
		{"/p2p/" + p + "/p2p-circuit/p2p/" + testPeer(2).String(), "", ""},
		{"/dnsaddr/bootstrap.libp2p.io/p2p/" + p, "", ""},
		{"/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:26661/p2p/" + p, "onion3", "onion3:v"},
		{"/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:26661/ws", "", ""},
		{"/p2p/" + p, "", ""},
	}
	for _, c := range cases {
		a := mustMA(t, c.addr)
		if got := Transport(a); got != c.transport {
			t.Errorf("Transport(%s) = %q, want %q", c.addr, got, c.transport)
		}
		if got := Netgroup(a); got != c.group {
			t.Errorf("Netgroup(%s) = %q, want %q", c.addr, got, c.group)
		}
	}
	if Transport(nil) != "" || Netgroup(nil) != "" {
		t.Error("nil address classified")
	}
}

// newItem's key is the address's string form and parses back to it, for
// every kind of address the book may hold; addresses without a trailing
// peer are refused.
func TestNewItemKey(t *testing.T) {
	t.Parallel()
	p, q := testPeer(1).String(), testPeer(2).String()
	for _, s := range []string{
		"/ip4/1.2.3.4/tcp/1/p2p/" + p,
		"/ip6/2600::1/udp/4/quic-v1/p2p/" + p,
		"/ip6zone/eth0/ip6/fe80::1/tcp/1/p2p/" + p,
		"/dns/Example.COM./tcp/1/wss/p2p/" + p,
		"/ip4/1.2.3.4/tcp/1/tls/sni/a.b/ws/p2p/" + p,
		"/ip4/1.2.3.4/tcp/1/p2p/" + q + "/p2p-circuit/p2p/" + p,
		"/ip4/1.2.3.4/udp/1/quic-v1/webtransport/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g/p2p/" + p,
	} {
		a := mustMA(t, s)
		it, ok := newItem(a, "")
		if !ok {
			t.Errorf("%s refused", s)
			continue
		}
		if it.key != string(a.Bytes()) || !it.addr.Equal(a) || it.peer != testPeer(1) {
			t.Errorf("%s: key %q, addr %s, peer %s", s, it.key, it.addr, it.peer)
		}
		if back, err := ma.NewMultiaddr(it.text()); err != nil || !back.Equal(a) {
			t.Errorf("%s: key does not parse back: %v", s, err)
		}
	}
	for _, s := range []string{"/ip4/1.2.3.4/tcp/1", "/p2p/" + p, "/ip4/1.2.3.4/tcp/1/p2p/" + q + "/p2p-circuit"} {
		if _, ok := newItem(mustMA(t, s), ""); ok {
			t.Errorf("%s accepted", s)
		}
	}
	if _, ok := newItem(mustMA(t, "/ip4/1.2.3.4/tcp/1/p2p/"+p), testPeer(2)); ok {
		t.Error("peer mismatch accepted")
	}
}

// filterNode is a Node with one manual peer, one refused peer and one own
// address.
type filterNode struct {
	NoNode
	manual, refused peer.ID
	own             ma.Multiaddr
}

func (f filterNode) ManualPeers() []peer.ID                 { return []peer.ID{f.manual} }
func (f filterNode) Refused(p peer.ID, _ ma.Multiaddr) bool { return p == f.refused }
func (f filterNode) OwnAddrs() []ma.Multiaddr               { return []ma.Multiaddr{f.own} }

// Circuit addresses: kept on the dark list by default (no relay
// transport), in Grey with a Dialable that accepts them; our own circuit
// address through a relay does not filter other peers' circuits through
// the same relay (their endpoint is the relay's), and the relay's own
// address is not taken for ours.
func TestCircuitEntries(t *testing.T) { synctest.Test(t, testCircuitEntries) }

func testCircuitEntries(t *testing.T) {
	relay, self, other := testPeer(1), testPeer(2), testPeer(3)
	relayAddr := "/ip4/" + globalIP4(7) + "/tcp/4001/p2p/" + relay.String()
	own := mustMA(t, relayAddr+"/p2p-circuit")
	circuit := Entry{Addr: mustMA(t, relayAddr+"/p2p-circuit/p2p/"+other.String()), Peer: other, LastSeen: epoch}
	direct := Entry{Addr: mustMA(t, relayAddr), Peer: relay, LastSeen: epoch}

	def, _ := newTestBook(t, Config{Self: self, Node: filterNode{own: own}})
	if n := def.Insert("", []Entry{circuit}); n != 0 || len(def.Entries(Dark)) != 1 {
		t.Errorf("default Dialable: stored %d in Grey, dark %d; want the circuit on the dark list", n, len(def.Entries(Dark)))
	}
	nat, _ := newTestBook(t, Config{
		Self:   self,
		Node:   filterNode{own: own},
		Dialer: DialableFunc(func(a ma.Multiaddr) bool { t := Transport(a); return t != "" && t != TransportOnion3 }),
	})
	if n := nat.Insert("", []Entry{circuit, direct}); n != 2 {
		t.Errorf("stored %d, want the circuit and the relay's own address in Grey (filtered: %v)", n, nat.Stats().Filtered)
	}
}
