package addrbook

import (
	"net/netip"
	"strings"

	ma "github.com/multiformats/go-multiaddr"
)

// isLocal reports whether the transport address tr names a local or
// otherwise non-global host: a non-global IP (see isGlobalIP), any
// zone-scoped IPv6 address, or the names localhost, localhost.localdomain
// and *.localhost (RFC 6761). Other DNS names and non-IP hosts count as
// global, as in DarkFi.
func isLocal(tr ma.Multiaddr) bool {
	h := hostOf(tr)
	switch h.kind {
	case hostIP:
		return !isGlobalIP(h.ip)
	case hostZone:
		return true
	case hostDNS:
		return h.name == "localhost" || h.name == "localhost.localdomain" ||
			strings.HasSuffix(h.name, ".localhost")
	}
	return false
}

// isGlobalIP is Rust's (unstable) IpAddr::is_global, which DarkFi copies,
// except that IPv4-mapped IPv6 addresses are classified by their IPv4
// address, and multicast (224.0.0.0/4, ff00::/8) is never global, since
// no peer listens on it.
func isGlobalIP(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return isGlobal4(ip.As4())
	}
	return isGlobal6(ip.As16())
}

func isGlobal4(b [4]byte) bool {
	switch {
	case b[0] == 0: // 0.0.0.0/8 "this network"
	case b[0] == 10: // 10.0.0.0/8 private
	case b[0] == 100 && b[1]&0xc0 == 64: // 100.64.0.0/10 shared (CGNAT)
	case b[0] == 127: // 127.0.0.0/8 loopback
	case b[0] == 169 && b[1] == 254: // 169.254.0.0/16 link-local
	case b[0] == 172 && b[1]&0xf0 == 16: // 172.16.0.0/12 private
	case b[0] == 192 && b[1] == 0 && b[2] == 0: // 192.0.0.0/24 protocol assignments
		return b[3] == 9 || b[3] == 10 // PCP and TURN anycast are global
	case b[0] == 192 && b[1] == 0 && b[2] == 2: // 192.0.2.0/24 TEST-NET-1
	case b[0] == 192 && b[1] == 168: // 192.168.0.0/16 private
	case b[0] == 198 && b[1]&0xfe == 18: // 198.18.0.0/15 benchmarking
	case b[0] == 198 && b[1] == 51 && b[2] == 100: // 198.51.100.0/24 TEST-NET-2
	case b[0] == 203 && b[1] == 0 && b[2] == 113: // 203.0.113.0/24 TEST-NET-3
	case b[0] >= 224: // 224/4 multicast, 240/4 reserved, 255.255.255.255 broadcast
	default:
		return true
	}
	return false
}

func isGlobal6(b [16]byte) bool {
	var s [8]uint16
	for i := range s {
		s[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	rest0 := func(from int) bool { // segments from..7 are zero
		for _, v := range s[from:] {
			if v != 0 {
				return false
			}
		}
		return true
	}
	switch {
	case rest0(0): // :: unspecified
	case s[7] == 1 && s[0]|s[1]|s[2]|s[3]|s[4]|s[5]|s[6] == 0: // ::1 loopback
	case s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1: // 64:ff9b:1::/48 local-use translation
	case s[0] == 0x100 && s[1] == 0 && s[2] == 0 && s[3] == 0: // 100::/64 discard-only
	case s[0] == 0x2001 && s[1] < 0x200: // 2001::/23 IETF protocol assignments
		switch {
		case s[1] == 1 && (s[7] == 1 || s[7] == 2) && s[2]|s[3]|s[4]|s[5]|s[6] == 0:
			return true // 2001:1::1 PCP anycast, 2001:1::2 TURN anycast
		case s[1] == 3: // 2001:3::/32 AMT
			return true
		case s[1] == 4 && s[2] == 0x112: // 2001:4:112::/48 AS112-v6
			return true
		case s[1] >= 0x20 && s[1] <= 0x3f: // 2001:20::/28 ORCHIDv2, 2001:30::/28 DETs
			return true
		}
	case s[0] == 0x2001 && s[1] == 0xdb8: // 2001:db8::/32 documentation
	case s[0] == 0x2002: // 2002::/16 6to4
	case s[0] == 0x3fff && s[1] < 0x1000: // 3fff::/20 documentation
	case s[0] == 0x5f00: // 5f00::/16 segment routing
	case s[0]&0xfe00 == 0xfc00: // fc00::/7 unique local
	case s[0]&0xffc0 == 0xfe80: // fe80::/10 link-local
	case s[0]&0xff00 == 0xff00: // ff00::/8 multicast
	default:
		return true
	}
	return false
}
