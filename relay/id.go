package relay

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
)

// IDLen is the length of a message id in bytes.
const IDLen = 32

// shortLen is the length of a short id: the prefix of a message id that
// announcements, fetches and digests carry.
const shortLen = 8

// ID identifies a message across the network. It is the SHA-256 of the
// message's topic, origin, time and data (see docs/protocol.md), so that
// no peer can make two different messages share an id.
type ID [IDLen]byte

// idDomain separates relay message ids from any other SHA-256 use.
const idDomain = "dnode/relay/id/v1\x00"

// MessageID computes the id of a message from its fields.
func MessageID(topic string, origin []byte, time uint64, data []byte) ID {
	h := sha256.New()
	var buf [2*binary.MaxVarintLen64 + 8]byte
	h.Write([]byte(idDomain))
	b := binary.AppendUvarint(buf[:0], uint64(len(topic)))
	h.Write(b)
	h.Write([]byte(topic))
	b = binary.AppendUvarint(buf[:0], uint64(len(origin)))
	h.Write(b)
	h.Write(origin)
	b = binary.BigEndian.AppendUint64(buf[:0], time)
	h.Write(b)
	h.Write(data)
	var id ID
	h.Sum(id[:0])
	return id
}

// String returns the id in lowercase hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// short returns the id's short form.
func (id ID) short() uint64 { return binary.BigEndian.Uint64(id[:shortLen]) }

// ParseID parses a hex id as String writes it.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != IDLen {
		return id, errors.New("relay: an id is 64 hex digits")
	}
	copy(id[:], b)
	return id, nil
}

// appendShort appends the wire form of short id s.
func appendShort(b []byte, s uint64) []byte { return binary.BigEndian.AppendUint64(b, s) }

// shorts splits concatenated short ids; ok is false when the length is
// not a multiple of the short id length or there are more than limit.
func shorts(b []byte, limit int) ([]uint64, bool) {
	if len(b)%shortLen != 0 || len(b)/shortLen > limit {
		return nil, false
	}
	out := make([]uint64, len(b)/shortLen)
	for i := range out {
		out[i] = binary.BigEndian.Uint64(b[i*shortLen:])
	}
	return out, true
}
