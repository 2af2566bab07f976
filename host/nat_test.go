package host

import (
	"slices"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func addrs(ss ...string) []ma.Multiaddr {
	out := make([]ma.Multiaddr, len(ss))
	for i, s := range ss {
		out[i] = ma.StringCast(s)
	}
	return out
}

func strs(as []ma.Multiaddr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

const relayID = "12D3KooWEALzXpKkM1w2HUgg8GXvb1CDPQNFGuuJa8hPwrdC1SJz"

// The address confirmation filter: external always, confirmed public
// addresses, circuit addresses only while not public, never a private
// listen address, each once.
func TestAdvertised(t *testing.T) {
	circuit := "/ip4/7.0.0.3/udp/4001/quic-v1/p2p/" + relayID + "/p2p-circuit"
	all := addrs("/ip4/10.1.0.2/tcp/4001", "/ip4/127.0.0.1/udp/4001/quic-v1", circuit)
	for _, c := range []struct {
		name      string
		external  []ma.Multiaddr
		confirmed []ma.Multiaddr
		reach     network.Reachability
		want      []string
	}{
		{"private, nothing confirmed", nil, nil, network.ReachabilityPrivate, []string{circuit}},
		{"unknown keeps circuits", nil, nil, network.ReachabilityUnknown, []string{circuit}},
		{"public drops circuits", nil, addrs("/ip4/7.0.0.11/tcp/4001"), network.ReachabilityPublic, []string{"/ip4/7.0.0.11/tcp/4001"}},
		{"external first, once", addrs("/ip4/1.2.3.4/tcp/1"), addrs("/ip4/1.2.3.4/tcp/1", "/ip4/7.0.0.11/tcp/4001"), network.ReachabilityPublic,
			[]string{"/ip4/1.2.3.4/tcp/1", "/ip4/7.0.0.11/tcp/4001"}},
		{"a private confirmed address is dropped", nil, addrs("/ip4/10.1.0.2/tcp/4001"), network.ReachabilityPublic, []string{}},
	} {
		got := strs(advertised(c.external, c.confirmed, all, c.reach))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: advertised %v, want %v", c.name, got, c.want)
		}
	}
}

func TestIsCircuit(t *testing.T) {
	if !IsCircuit(ma.StringCast("/ip4/7.0.0.3/tcp/1/p2p/" + relayID + "/p2p-circuit")) {
		t.Error("circuit address not recognised")
	}
	if IsCircuit(ma.StringCast("/ip4/7.0.0.3/tcp/1/p2p/" + relayID)) {
		t.Error("direct address taken for a circuit")
	}
}

// The relay ACL: reservations for members, circuits only between members.
func TestMemberACL(t *testing.T) {
	a, b, stranger := peer.ID("a"), peer.ID("b"), peer.ID("s")
	acl := memberACL{member: func(p peer.ID) bool { return p == a || p == b }}
	if !acl.AllowReserve(a, nil) || acl.AllowReserve(stranger, nil) {
		t.Error("AllowReserve: want members only")
	}
	if !acl.AllowConnect(a, nil, b) || acl.AllowConnect(stranger, nil, b) || acl.AllowConnect(a, nil, stranger) {
		t.Error("AllowConnect: want both ends members")
	}
	if (memberACL{}).AllowReserve(a, nil) {
		t.Error("nil Member allowed a reservation")
	}
}

func TestRelayCandidates(t *testing.T) {
	peers := []peer.ID{"a", "b", "c", "d"}
	member := func(p peer.ID) bool { return p != "b" }
	hop := func(p peer.ID) bool { return p != "c" }
	if got := relayCandidates(peers, member, hop, 10); !slices.Equal(got, []peer.ID{"a", "d"}) {
		t.Errorf("candidates %v, want [a d] (members with the hop protocol)", got)
	}
	if got := relayCandidates(peers, member, hop, 1); !slices.Equal(got, []peer.ID{"a"}) {
		t.Errorf("candidates %v, want [a] (num caps)", got)
	}
	if got := relayCandidates(peers, nil, hop, 10); len(got) != 0 {
		t.Errorf("candidates %v without a member function, want none", got)
	}
}

// Without NAT traversal the host's options are the LAN host's: the relay
// transport off and nothing else.
func TestNATOptionsNil(t *testing.T) {
	if got := natOptions(nil, nil); len(got) != 1 {
		t.Errorf("natOptions(nil) = %d options, want only DisableRelay", len(got))
	}
}
