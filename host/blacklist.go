package host

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// blacklistEntry matches connections by any combination of peer ID,
// address prefix and port. Zero fields match anything.
type blacklistEntry struct {
	peer   peer.ID
	prefix netip.Prefix // invalid when unset
	port   int          // 0 when unset
	text   string
}

// ParseBlacklistEntry parses one blacklist entry: a peer ID, an IP, a
// CIDR prefix, or a multiaddr made of /ip4 or /ip6, an optional /tcp or
// /udp port and an optional /p2p component.
func ParseBlacklistEntry(s string) (blacklistEntry, error) {
	e := blacklistEntry{text: s}
	s = strings.TrimSpace(s)
	if s == "" {
		return e, fmt.Errorf("empty blacklist entry")
	}
	if !strings.HasPrefix(s, "/") {
		if p, err := netip.ParsePrefix(s); err == nil {
			e.prefix = p.Masked()
			return e, nil
		}
		if a, err := netip.ParseAddr(s); err == nil {
			e.prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			return e, nil
		}
		id, err := peer.Decode(s)
		if err != nil {
			return e, fmt.Errorf("%q is not a peer ID, IP, CIDR or multiaddr", s)
		}
		e.peer = id
		return e, nil
	}
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return e, fmt.Errorf("%q: %v", s, err)
	}
	for _, c := range m {
		switch c.Code() {
		case ma.P_IP4, ma.P_IP6:
			a, ok := netip.AddrFromSlice(c.RawValue())
			if !ok {
				return e, fmt.Errorf("%q: bad IP", s)
			}
			e.prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		case ma.P_TCP, ma.P_UDP:
			var port int
			if _, err := fmt.Sscanf(c.Value(), "%d", &port); err != nil {
				return e, fmt.Errorf("%q: bad port", s)
			}
			e.port = port
		case ma.P_P2P:
			id, err := peer.Decode(c.Value())
			if err != nil {
				return e, fmt.Errorf("%q: bad peer ID", s)
			}
			e.peer = id
		case ma.P_QUIC_V1, ma.P_WS:
		default:
			return e, fmt.Errorf("%q: unsupported component /%s", s, c.Protocol().Name)
		}
	}
	if e.peer == "" && !e.prefix.IsValid() {
		return e, fmt.Errorf("%q names neither an address nor a peer", s)
	}
	return e, nil
}

// matches reports whether the entry covers a connection to or from peer p
// at address a (invalid if unknown) and port (0 if unknown).
func (e blacklistEntry) matches(p peer.ID, a netip.Addr, port int) bool {
	if e.peer != "" && e.peer != p {
		return false
	}
	if e.prefix.IsValid() {
		if !a.IsValid() || !e.prefix.Contains(a) {
			return false
		}
	}
	if e.port != 0 && e.port != port {
		return false
	}
	return true
}

// addrOf extracts the IP and port of a multiaddr; both are zero values
// when the multiaddr has none.
func addrOf(m ma.Multiaddr) (netip.Addr, int) {
	if m == nil {
		return netip.Addr{}, 0
	}
	na, err := manet.ToNetAddr(m)
	if err != nil {
		// Not a thin-waist address (e.g. /dns); try the IP alone.
		ip, err := manet.ToIP(m)
		if err != nil {
			return netip.Addr{}, 0
		}
		a, _ := netip.AddrFromSlice(ip)
		return a.Unmap(), 0
	}
	ap, err := netip.ParseAddrPort(na.String())
	if err != nil {
		return netip.Addr{}, 0
	}
	return ap.Addr().Unmap(), int(ap.Port())
}
