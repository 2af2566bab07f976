package addr

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols/pb"
)

// CheckGetAddrs reports a GetAddrs that breaks the protocol's limits (a
// violation): more than MaxTransports transports or more than
// MaxGetAddrsBytes encoded. Any max is valid; replies clamp it.
func CheckGetAddrs(g *pb.GetAddrs) error {
	if len(g.Transports) > MaxTransports || proto.Size(g) > MaxGetAddrsBytes {
		return fmt.Errorf("%w: GetAddrs of %d bytes with %d transports", channel.ErrViolation, proto.Size(g), len(g.Transports))
	}
	return nil
}

// maxLastSeen keeps a received last_seen within time.Unix's range; the
// address book clamps future times to now anyway.
const maxLastSeen = 1 << 62

// DecodeEntries turns received entries into address-book entries,
// skipping those whose address does not parse or lacks /p2p/<id>.
func DecodeEntries(in []*pb.AddrEntry) []addrbook.Entry {
	out := make([]addrbook.Entry, 0, len(in))
	for _, pe := range in {
		if e, ok := addrbook.ParseRaw(rawEntry(pe)); ok {
			out = append(out, e)
		}
	}
	return out
}

// decodeWith is DecodeEntries through book's Decode, which takes the
// addresses it holds from the book instead of parsing them.
func decodeWith(book *addrbook.Book, in []*pb.AddrEntry) []addrbook.Entry {
	raw := make([]addrbook.RawEntry, len(in))
	for i, pe := range in {
		raw[i] = rawEntry(pe)
	}
	return book.Decode(raw)
}

func rawEntry(pe *pb.AddrEntry) addrbook.RawEntry {
	return addrbook.RawEntry{Addr: pe.GetAddr(), LastSeen: time.Unix(int64(min(pe.GetLastSeen(), maxLastSeen)), 0)}
}
