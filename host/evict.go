package host

import (
	"cmp"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Candidate is one inbound peer as inbound eviction (SelectVictim) sees
// it.
type Candidate struct {
	Peer peer.ID
	Addr ma.Multiaddr // its channel's remote address
	// Netgroup is the peer's netgroup keyed with a per-node secret (see
	// ConnMgr): candidates with equal values share a netgroup, and the
	// order of the values, which a remote peer cannot predict, decides
	// which netgroups are protected.
	Netgroup uint64
	// RTT is the channel's last ping round trip; 0 while none was
	// measured.
	RTT time.Duration
	// Connected is when the peer's channel started.
	Connected time.Time
	// LastUseful is when the peer last delivered a relay message that was
	// new to us; zero if it never did.
	LastUseful time.Time
	// Protected candidates are never evicted and count in no class:
	// manual peers, seeds, peers with an outbound channel or a handshake
	// in progress, peers protected through the connection manager.
	Protected bool
}

// The sizes of the protected classes (Bitcoin Core's
// node/eviction.cpp, SelectNodeToEvict).
const (
	// ProtectNetgroups candidates are kept, each from a distinct netgroup.
	ProtectNetgroups = 4
	// ProtectPing candidates with the lowest ping round trip are kept.
	ProtectPing = 8
	// ProtectUseful candidates that most recently delivered a relay
	// message new to us are kept.
	ProtectUseful = 4
)

// SelectVictim chooses the inbound peer to evict so that a newcomer can
// take its slot, by Bitcoin Core's rule (AttemptToEvictConnection). From
// the candidates that are not Protected it keeps, in this order:
//
//  1. ProtectNetgroups candidates of distinct netgroups: the netgroups
//     with the highest keyed values, the longest-connected candidate of
//     each;
//  2. the ProtectPing candidates with the lowest RTT;
//  3. the ProtectUseful candidates with the most recent LastUseful;
//  4. the longest-connected half of the rest (rounded down).
//
// Classes 2 and 3 keep only candidates that have a value: a channel
// without a measured RTT or a useful delivery earns no protection by it.
// From what is left it evicts the most recently connected candidate of
// the netgroup with the most candidates (among equally large ones, the
// netgroup whose youngest member is youngest). ok is false when no
// candidate is left: the newcomer is then refused.
//
// The result depends only on the set of candidates, not on their order;
// ties are broken by peer ID. It is a pure function.
func SelectVictim(cands []Candidate) (victim peer.ID, ok bool) {
	rest := make([]Candidate, 0, len(cands))
	for _, c := range cands {
		if !c.Protected {
			rest = append(rest, c)
		}
	}
	rest = protectNetgroups(rest, ProtectNetgroups)
	rest = protectFirst(rest, ProtectPing, func(c Candidate) bool { return c.RTT > 0 }, func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(a.RTT, b.RTT), byAge(a, b))
	})
	rest = protectFirst(rest, ProtectUseful, func(c Candidate) bool { return !c.LastUseful.IsZero() }, func(a, b Candidate) int {
		return cmp.Or(b.LastUseful.Compare(a.LastUseful), byAge(a, b))
	})
	rest = protectFirst(rest, len(rest)/2, func(Candidate) bool { return true }, byAge)
	if len(rest) == 0 {
		return "", false
	}
	groups := make(map[uint64][]Candidate)
	for _, c := range rest {
		groups[c.Netgroup] = append(groups[c.Netgroup], c)
	}
	var (
		best     []Candidate
		bestKey  uint64
		youngest Candidate
	)
	for key, g := range groups {
		y := slices.MinFunc(g, byYouth)
		switch {
		case best == nil, len(g) > len(best),
			len(g) == len(best) && cmp.Or(byYouth(y, youngest), cmp.Compare(key, bestKey)) < 0:
			best, bestKey, youngest = g, key, y
		}
	}
	return youngest.Peer, true
}

// byAge orders candidates longest-connected first, then by peer ID.
func byAge(a, b Candidate) int {
	return cmp.Or(a.Connected.Compare(b.Connected), cmp.Compare(a.Peer, b.Peer))
}

// byYouth orders candidates most recently connected first, then by peer
// ID (the reverse of byAge).
func byYouth(a, b Candidate) int { return byAge(b, a) }

// protectFirst removes from cands the first k of those eligible, in the
// order of by, and returns the others in their original order.
func protectFirst(cands []Candidate, k int, eligible func(Candidate) bool, by func(a, b Candidate) int) []Candidate {
	var order []int
	for i, c := range cands {
		if eligible(c) {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(i, j int) int { return by(cands[i], cands[j]) })
	kept := make(map[int]bool, k)
	for _, i := range order[:min(k, len(order))] {
		kept[i] = true
	}
	return without(cands, kept)
}

// protectNetgroups removes the longest-connected candidate of each of
// the k netgroups with the highest keyed values.
func protectNetgroups(cands []Candidate, k int) []Candidate {
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		return cmp.Or(cmp.Compare(cands[j].Netgroup, cands[i].Netgroup), byAge(cands[i], cands[j]))
	})
	kept := make(map[int]bool, k)
	var last uint64
	for n, i := range order {
		if len(kept) == k {
			break
		}
		if n == 0 || cands[i].Netgroup != last {
			kept[i] = true
			last = cands[i].Netgroup
		}
	}
	return without(cands, kept)
}

// without returns cands without the indexes in drop.
func without(cands []Candidate, drop map[int]bool) []Candidate {
	out := cands[:0:0]
	for i, c := range cands {
		if !drop[i] {
			out = append(out, c)
		}
	}
	return out
}
