package addrbook

import (
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Reply bounds.
const (
	// MaxReply clamps Select's max, so a reply holds at most 2*MaxReply
	// entries (DarkFi does not clamp GetAddrs.max; reliability G8).
	MaxReply = 500
	// MaxReplyBytes bounds the encoded size of a reply: DarkFi's
	// ADDRS_MAX_BYTES. 2*MaxReply entries of 120 bytes would not fit,
	// so Select also stops adding entries at this budget.
	MaxReplyBytes = 65281
	// replyEnvelope is the worst-case framing around the repeated
	// entries (the AddrMessage oneof tag and length).
	replyEnvelope = 1 + 3
)

// EncodedSize is an upper bound on the protobuf size of e as one element
// of a repeated AddrEntry{bytes addr = 1; uint64 last_seen = 2} field: its
// tag and length plus the address bytes, the address tag and length and
// a last_seen of the largest varint size.
func EncodedSize(e Entry) int { return encodedSize(len(e.Addr.Bytes())) }

// encodedSize is EncodedSize for an address of n bytes.
func encodedSize(n int) int {
	inner := protowire.SizeTag(1) + protowire.SizeBytes(n) +
		protowire.SizeTag(2) + protowire.SizeVarint(math.MaxUint64)
	return protowire.SizeTag(1) + protowire.SizeBytes(inner)
}

// Select chooses addresses for an Addrs reply (DarkFi's select_addrs):
// up to max random Gold entries with one of the requested transports
// ("tcp", "quic", "ws", see Transport), up to max random White ones with
// them, then, up to 2*max in all, Gold entries of other transports, White
// entries of other transports and random Dark entries. Grey and Black are
// never shared. max is clamped to [0, MaxReply], and entries stop once
// their summed EncodedSize would exceed MaxReplyBytes minus the message
// envelope, so a reply always fits the receiver's limit.
func (b *Book) Select(max int, transports []string) []Entry {
	var out []Entry
	b.selectItems(max, transports, func(n int) { out = make([]Entry, 0, n) },
		func(it *item) { out = append(out, it.entry()) })
	return out
}

// SelectRaw is Select giving the entries' binary addresses, as an Addrs
// reply carries them: the same choice, without building or reading the
// parsed addresses. The returned Addr slices share one buffer, owned by
// the caller.
func (b *Book) SelectRaw(max int, transports []string) []RawEntry {
	var out []RawEntry
	var buf []byte
	b.selectItems(max, transports, func(n int) {
		out = make([]RawEntry, 0, n)
		buf = make([]byte, 0, n*64)
	}, func(it *item) {
		start := len(buf)
		buf = append(buf, it.key...) // the key is the address's bytes
		out = append(out, RawEntry{Addr: buf[start:len(buf):len(buf)], LastSeen: time.Unix(it.ts, 0)})
	})
	return out
}

// selectItems runs Select's choice with b.mu held: alloc is called once
// with the most entries the choice can give, then add with each chosen
// item, in order. Neither may call the Book.
func (b *Book) selectItems(max int, transports []string, alloc func(n int), add func(*item)) {
	max = min(max, MaxReply)
	if max <= 0 {
		return
	}
	wanted := wantedTransports(transports)

	b.mu.Lock()
	defer b.mu.Unlock()
	alloc(2 * max)
	n := 0
	// Selected items carry this Select's mark. Keys are unique within a
	// list, and one draw of a list yields each item once, so an entry can
	// only repeat across lists: a Dark entry is skipped when an item of
	// the same key in Gold or White carries the mark.
	b.selMark++
	mark := b.selMark
	selected := func(key string) bool {
		g, w := b.lists[Gold].get(key), b.lists[White].get(key)
		return g != nil && g.sel == mark || w != nil && w.sel == mark
	}
	budget := MaxReplyBytes - replyEnvelope
	// take draws up to limit entries of list c, in a random order, whose
	// transport is wanted (match), is not (other), or either (all).
	const (
		match = iota
		other
		all
	)
	take := func(c Color, which int, limit int) {
		items := b.lists[c].items
		taken := 0
		perm := b.permLocked(len(items))
		for taken < limit && n < 2*max {
			i, ok := perm.next()
			if !ok {
				return
			}
			it := items[i]
			if which != all && wanted(it.transport()) != (which == match) {
				continue
			}
			if it.sel == mark || c == Dark && selected(it.key) {
				continue
			}
			size := encodedSize(len(it.key)) // the key is the address's bytes
			if size > budget {
				continue
			}
			budget -= size
			it.sel = mark
			add(it)
			n++
			taken++
		}
	}
	take(Gold, match, max)
	take(White, match, max)
	take(Gold, other, 2*max)
	take(White, other, 2*max)
	take(Dark, all, 2*max)
}

// wantedTransports returns the membership test of transports ("" is
// never wanted): a scan of the few a GetAddrs carries, a map for more.
func wantedTransports(transports []string) func(string) bool {
	if len(transports) <= 8 {
		return func(t string) bool { return t != "" && slices.Contains(transports, t) }
	}
	want := make(map[string]bool, len(transports))
	for _, t := range transports {
		want[t] = t != ""
	}
	return func(t string) bool { return want[t] }
}
