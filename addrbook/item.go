package addrbook

import (
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// newItem validates a full address: it must end in /p2p/<id> after a
// non-empty transport part, agree with p when p is set, and survive a
// round trip through its string form (so that the hostlist file can hold
// it). The returned item has no LastSeen yet; its key is the address's
// binary form.
//
// The round trip is only run for transports with a component outside
// textSafe: for those every value go-multiaddr accepts formats and parses
// back to the same bytes, so the check cannot fail (see
// TestNewItemMatchesRoundTrip). The /p2p/ component is a multihash that
// go-multiaddr validated when a was built, and its base58 form decodes to
// the same bytes. Formatting (base58 above all) was most of the cost of an
// insert.
func newItem(a ma.Multiaddr, p peer.ID) (*item, bool) {
	tr, id, ok := a, p, len(a) >= 2 && a[len(a)-1].Code() == ma.P_P2P
	switch {
	case !ok:
		return nil, false
	case p == "":
		tr, id, ok = splitP2P(a)
	default: // p's bytes are the value's (no copy for the peer ID)
		tr, ok = a[:len(a)-1], string(a[len(a)-1].RawValue()) == string(p)
	}
	if !ok {
		return nil, false
	}
	if !textSafe(tr) && !roundTrips(tr) {
		return nil, false
	}
	a = slices.Clip(slices.Clone(a)) // the caller's slice stays its own
	return &item{addr: a, peer: id, key: string(a.Bytes())}, true
}

// textSafe reports whether every component of tr is of a protocol whose
// binary and text forms map one to one: IP addresses, ports, and the
// value-less transport markers.
func textSafe(tr ma.Multiaddr) bool {
	for i := range tr {
		switch tr[i].Code() {
		case ma.P_IP4, ma.P_IP6, ma.P_TCP, ma.P_UDP, ma.P_QUIC_V1, ma.P_WS, ma.P_WSS, ma.P_TLS:
		default:
			return false
		}
	}
	return true
}

// roundTrips reports whether tr parses back from its string form to the
// same bytes.
func roundTrips(tr ma.Multiaddr) bool {
	back, err := ma.NewMultiaddr(tr.String())
	return err == nil && back.Equal(tr)
}

// text returns the address's string form, as the hostlist file and logs
// show it.
func (it *item) text() string { return it.addr.String() }
