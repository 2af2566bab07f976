package addrbook

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// hostKind is what the first component of a transport address names.
type hostKind int

const (
	hostNone hostKind = iota // no IP or DNS host (onion, circuit-only, ...)
	hostIP
	hostZone // an /ip6zone-scoped IPv6 address: always link-local
	hostDNS
)

// hostInfo is the host and port of a transport address.
type hostInfo struct {
	kind hostKind
	ip   netip.Addr // hostIP, hostZone (unmapped)
	name string     // hostDNS, lower case without a trailing dot
	port int        // the tcp or udp port, or -1
	hops int        // components used by the host (1, or 2 with ip6zone)
}

// hostOf returns the host of the transport address tr (without /p2p).
func hostOf(tr ma.Multiaddr) hostInfo {
	h := hostInfo{port: -1}
	if len(tr) == 0 {
		return h
	}
	c := tr[0]
	switch c.Code() {
	case ma.P_IP4, ma.P_IP6:
		ip, ok := netip.AddrFromSlice(c.RawValue())
		if !ok {
			return h
		}
		h.kind, h.ip, h.hops = hostIP, ip.Unmap(), 1
	case ma.P_IP6ZONE:
		if len(tr) < 2 || tr[1].Code() != ma.P_IP6 {
			return h
		}
		ip, ok := netip.AddrFromSlice(tr[1].RawValue())
		if !ok {
			return h
		}
		h.kind, h.ip, h.hops = hostZone, ip.Unmap(), 2
	case ma.P_DNS, ma.P_DNS4, ma.P_DNS6:
		h.kind, h.hops = hostDNS, 1
		h.name = strings.TrimSuffix(strings.ToLower(c.Value()), ".")
	default:
		return h
	}
	if len(tr) > h.hops {
		// The port's 16 bits, read as go-multiaddr formats them (its
		// text form was most of hostOf's cost).
		if p := tr[h.hops]; p.Code() == ma.P_TCP || p.Code() == ma.P_UDP {
			if v := p.RawValue(); len(v) == 2 {
				h.port = int(binary.BigEndian.Uint16(v))
			}
		}
	}
	return h
}

// splitP2P splits a full address into its transport part (a's own
// slice, not a copy) and peer. ok is false unless a ends in /p2p/<id>
// after a non-empty transport part.
func splitP2P(a ma.Multiaddr) (tr ma.Multiaddr, id peer.ID, ok bool) {
	n := len(a)
	if n < 2 || a[n-1].Code() != ma.P_P2P {
		return nil, "", false
	}
	// As peer.SplitAddr: the value is a multihash go-multiaddr validated.
	id = peer.ID(a[n-1].RawValue())
	if id == "" {
		return nil, "", false
	}
	return a[:n-1], id, true
}

// stripP2P removes a trailing /p2p component, if any.
func stripP2P(a ma.Multiaddr) ma.Multiaddr {
	if n := len(a); n > 0 && a[n-1].Code() == ma.P_P2P {
		return a[:n-1]
	}
	return a
}

// TransportOnion3 is Transport's name for a Tor v3 onion address.
const TransportOnion3 = "onion3"

// TransportCircuit is Transport's name for a circuit relay v2 address: a
// relay's tcp, quic or ws address with its /p2p/<relay-id>, then
// /p2p-circuit (then the target's /p2p/<id>). Only a node with NAT
// traversal dials them (Config.Dialable); its host, port and netgroup
// are the relay's.
const TransportCircuit = "circuit"

// Transport returns the transport of a: "tcp" (plain TCP), "quic"
// (QUIC v1), "ws" (WebSocket, secure or not) over an IP or DNS host,
// "onion3" for a bare /onion3 address, or "" for anything else
// (WebTransport, WebRTC, circuit relay, ...). A trailing /p2p component
// is ignored.
func Transport(a ma.Multiaddr) string {
	tr := stripP2P(a)
	if len(tr) == 1 && tr[0].Code() == ma.P_ONION3 {
		return TransportOnion3
	}
	if n := len(tr); n >= 3 && tr[n-1].Code() == ma.P_CIRCUIT && tr[n-2].Code() == ma.P_P2P {
		switch Transport(tr[:n-2]) {
		case "tcp", "quic", "ws":
			return TransportCircuit
		}
		return ""
	}
	h := hostOf(tr)
	if h.kind == hostNone {
		return ""
	}
	rest := tr[h.hops:]
	if len(rest) > 4 { // longer than every shape below
		return ""
	}
	var buf [4]int
	codes := buf[:len(rest)]
	for i := range rest {
		codes[i] = rest[i].Code()
	}
	switch {
	case eqCodes(codes, ma.P_TCP):
		return "tcp"
	case eqCodes(codes, ma.P_UDP, ma.P_QUIC_V1):
		return "quic"
	case eqCodes(codes, ma.P_TCP, ma.P_WS), eqCodes(codes, ma.P_TCP, ma.P_WSS),
		eqCodes(codes, ma.P_TCP, ma.P_TLS, ma.P_WS), eqCodes(codes, ma.P_TCP, ma.P_TLS, ma.P_SNI, ma.P_WS):
		return "ws"
	}
	return ""
}

func eqCodes(got []int, want ...int) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// Netgroup returns the diversity group of a: "ip4:a.b" (the IPv4 /16,
// also for IPv4-mapped IPv6), "ip6:xxxx:xxxx" (the IPv6 /32), "dns:<name>"
// for a DNS host, "onion3:<c>" (the first base32 character of the key)
// for an onion, "circuit:" and the relay's group for a circuit address,
// or "" when a has none of them. Outbound slots use
// it to keep at most one peer per group (DarkFi has no such rule).
func Netgroup(a ma.Multiaddr) string {
	tr := stripP2P(a)
	if n := len(tr); n >= 3 && tr[n-1].Code() == ma.P_CIRCUIT && Transport(tr) == TransportCircuit {
		// Every peer behind one relay shares one group, apart from the
		// relay's own: a relay cannot fill the slots with its clients,
		// and the relay and one of its clients can both be held.
		return "circuit:" + Netgroup(tr[:len(tr)-2])
	}
	h := hostOf(tr)
	switch h.kind {
	case hostIP, hostZone:
		// Built by hand: fmt was a tenth of an insert's cost.
		if h.ip.Is4() {
			b := h.ip.As4()
			out := append(make([]byte, 0, 11), "ip4:"...)
			out = strconv.AppendUint(out, uint64(b[0]), 10)
			out = append(out, '.')
			return string(strconv.AppendUint(out, uint64(b[1]), 10))
		}
		b := h.ip.As16()
		const hexDigits = "0123456789abcdef"
		out := append(make([]byte, 0, 13), "ip6:"...)
		for i, x := range b[:4] {
			if i == 2 {
				out = append(out, ':')
			}
			out = append(out, hexDigits[x>>4], hexDigits[x&15])
		}
		return string(out)
	case hostDNS:
		return "dns:" + h.name
	}
	if len(tr) == 1 && tr[0].Code() == ma.P_ONION3 {
		// As Bitcoin Core groups onions: by the first bits of the key
		// (here one base32 character, 5 bits: 32 groups), since an
		// onion says nothing about where its host is.
		return "onion3:" + tr[0].Value()[:1]
	}
	return ""
}

// endpoint identifies an address by host, port and transport, for the
// own-address filter; a comparable value, so that no string is built
// per address. Addresses without a known host or transport fall back to
// their full transport string (raw).
type endpoint struct {
	ip        netip.Addr
	name      string // DNS host
	port      int
	transport string
	raw       string
}

func endpointKey(tr ma.Multiaddr) endpoint {
	h := hostOf(tr)
	t := Transport(tr)
	if h.kind == hostNone || t == "" {
		return endpoint{raw: tr.String()}
	}
	if h.kind == hostDNS {
		// A name written as an IP address is that address, as when the
		// key was the host's text.
		if ip, err := netip.ParseAddr(h.name); err == nil && ip.String() == h.name {
			return endpoint{ip: ip, port: h.port, transport: t}
		}
	}
	return endpoint{ip: h.ip, name: h.name, port: h.port, transport: t}
}

// defaultDialable accepts tcp, quic-v1 and ws over ip4, ip6 and dns: the
// direct transports. Onions need a proxy, circuits the relay transport
// (Config.Dialer).
func defaultDialable(a ma.Multiaddr) bool {
	t := Transport(a)
	return t != "" && t != TransportOnion3 && t != TransportCircuit
}
