package addrbook

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// roundTripItemOK is newItem's acceptance as it was before the binary
// key: the whole transport part formatted and parsed back, every time.
func roundTripItemOK(a ma.Multiaddr, p peer.ID) bool {
	tr, id := peer.SplitAddr(a)
	if id == "" || len(tr) == 0 || (p != "" && p != id) || a[len(a)-1].Code() != ma.P_P2P {
		return false
	}
	return roundTrips(tr)
}

// checkNewItem fails unless newItem accepts a exactly when the full
// round trip does, with the binary key and an equal address.
func checkNewItem(t *testing.T, a ma.Multiaddr) {
	t.Helper()
	it, ok := newItem(a, "")
	if want := roundTripItemOK(a, ""); ok != want {
		t.Fatalf("%s: newItem accepts %v, the round trip %v", a, ok, want)
	}
	if ok && (it.key != string(a.Bytes()) || !it.addr.Equal(a)) {
		t.Fatalf("%s: key %x, addr %s", a, it.key, it.addr)
	}
}

// The transports newItem skips the round trip for (textSafe) never fail
// it: random IPv4 and IPv6 addresses (mapped and zero ones included) and
// ports, under each transport shape.
func TestNewItemMatchesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p2p := ma.StringCast("/p2p/" + testPeer(1).String())
	shapes := []string{"/tcp/%d", "/tcp/%d/ws", "/tcp/%d/wss", "/tcp/%d/tls/ws", "/udp/%d/quic-v1"}
	for i := range 20000 {
		// The IP component from wire bytes: code, then the address.
		var raw []byte
		switch i % 4 {
		case 0:
			raw = binary.BigEndian.AppendUint32([]byte{ma.P_IP4}, rng.Uint32())
		case 1:
			raw = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte{ma.P_IP6}, rng.Uint64()), rng.Uint64())
		case 2: // IPv4-mapped and IPv4-compatible IPv6
			raw = []byte{ma.P_IP6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}
			if rng.IntN(2) == 0 {
				raw[11], raw[12] = 0, 0
			}
			raw = binary.BigEndian.AppendUint32(raw, rng.Uint32())
		default: // one byte set
			raw = make([]byte, 17)
			raw[0] = ma.P_IP6
			raw[1+rng.IntN(16)] = byte(rng.Uint32())
		}
		ip, err := ma.NewMultiaddrBytes(raw)
		if err != nil {
			t.Fatalf("%x: %v", raw, err)
		}
		port := rng.IntN(65536)
		rest := ma.StringCast(fmt.Sprintf(shapes[rng.IntN(len(shapes))], port))
		a := append(append(append(ma.Multiaddr{}, ip...), rest...), p2p...)
		if !textSafe(a[:len(a)-1]) {
			t.Fatalf("%s: not text-safe", a)
		}
		checkNewItem(t, a)
	}
}

// FuzzNewItem: for any address go-multiaddr accepts, newItem agrees
// with the full round trip.
func FuzzNewItem(f *testing.F) {
	p := testPeer(1).String()
	for _, s := range []string{
		"/ip4/1.2.3.4/tcp/1/p2p/" + p,
		"/ip6/::ffff:1.2.3.4/udp/4/quic-v1/p2p/" + p,
		"/ip6/::/tcp/0/tls/ws/p2p/" + p,
		"/dns/Example.COM./tcp/1/wss/p2p/" + p,
		"/ip6zone/eth0/ip6/fe80::1/tcp/1/p2p/" + p,
		"/ip4/1.2.3.4/tcp/1/tls/sni/a.b/ws/p2p/" + p,
	} {
		f.Add(ma.StringCast(s).Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ma.NewMultiaddrBytes(b)
		if err != nil || len(a) == 0 {
			return
		}
		checkNewItem(t, a)
	})
}

// endpointText is the own-address key as it was: host text, port and
// transport joined, or the raw transport string.
func endpointText(tr ma.Multiaddr) string {
	h := hostOf(tr)
	t := Transport(tr)
	if h.kind == hostNone || t == "" {
		return "raw:" + tr.String()
	}
	host := h.name
	if h.kind != hostDNS {
		host = h.ip.String()
	}
	return host + "|" + strconv.Itoa(h.port) + "|" + t
}

// Two transport addresses have equal endpoint keys exactly when their
// text keys were equal.
func TestEndpointKeyMatchesText(t *testing.T) {
	var addrs []ma.Multiaddr
	for _, s := range []string{
		"/ip4/1.2.3.4/tcp/1", "/ip4/1.2.3.4/tcp/2", "/ip4/1.2.3.4/tcp/1/ws", "/ip4/1.2.3.4/udp/1/quic-v1",
		"/ip6/::ffff:1.2.3.4/tcp/1", "/dns/1.2.3.4/tcp/1", "/dns4/1.2.3.4/tcp/1", "/dns/::1/tcp/1", "/ip6/::1/tcp/1",
		"/dns/::ffff:1.2.3.4/tcp/1", "/dns/example.com/tcp/1", "/dns/Example.com./tcp/1", "/dns6/example.com/tcp/1",
		"/ip6zone/eth0/ip6/fe80::1/tcp/1", "/ip6/fe80::1/tcp/1", "/dns/fe80::1%eth0/tcp/1",
		"/ip4/1.2.3.4/tcp/1/tls/sni/a.b/ws", "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:1234",
		"/ip4/1.2.3.4/udp/1/webrtc-direct", "/ip4/1.2.3.4/udp/1/webrtc-direct/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g",
	} {
		addrs = append(addrs, mustMA(t, s))
	}
	for _, a := range addrs {
		for _, b := range addrs {
			if (endpointKey(a) == endpointKey(b)) != (endpointText(a) == endpointText(b)) {
				t.Errorf("%s and %s: endpoint keys equal %v, text keys %q %q", a, b, endpointKey(a) == endpointKey(b), endpointText(a), endpointText(b))
			}
		}
	}
}

// Netgroup's hand-built names are fmt's: "ip4:%d.%d" of the /16 and
// "ip6:%02x%02x:%02x%02x" of the /32.
func TestNetgroupFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 5000 {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], rng.Uint64())
		binary.BigEndian.PutUint64(b[8:], rng.Uint64())
		b[0] = max(b[0], 0x20) // not IPv4-mapped
		a4, _ := ma.NewMultiaddrBytes(append([]byte{ma.P_IP4}, b[:4]...))
		if got, want := Netgroup(a4), fmt.Sprintf("ip4:%d.%d", b[0], b[1]); got != want {
			t.Fatalf("%s: %q, want %q", a4, got, want)
		}
		a6, _ := ma.NewMultiaddrBytes(append([]byte{ma.P_IP6}, b[:]...))
		if got, want := Netgroup(a6), fmt.Sprintf("ip6:%02x%02x:%02x%02x", b[0], b[1], b[2], b[3]); got != want {
			t.Fatalf("%s: %q, want %q", a6, got, want)
		}
	}
}
