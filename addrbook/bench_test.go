package addrbook

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// benchPool is the number of distinct peers the benchmarks draw from:
// more than Decode's /p2p/ cache holds, so that, as in an addr exchange
// with a large network, most peers are new to the book.
const benchPool = 4 * p2pCacheMax

// benchPeer returns the i-th peer of the pool: an identity multihash of an
// Ed25519 public key, as libp2p peers have.
func benchPeer(i int) peer.ID {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))
	key := sha256.Sum256(seed[:])
	return peer.ID(append([]byte{0x00, 0x24, 0x08, 0x01, 0x12, 0x20}, key[:]...))
}

// benchRaw returns the raw entries of the pool: tcp and quic-v1 addresses
// on global IPv4 hosts, half of them in one /16, with last_seen values
// spread over the last hours.
func benchRaw(b *testing.B) []RawEntry {
	b.Helper()
	now := time.Now()
	raw := make([]RawEntry, benchPool)
	for i := range raw {
		tr := fmt.Sprintf("tcp/%d", 1024+i)
		if i%2 == 1 {
			tr = fmt.Sprintf("udp/%d/quic-v1", 1024+i)
		}
		a := mustMA(b, fmt.Sprintf("/ip4/23.%d.%d.%d/%s/p2p/%s", i>>16&255, i>>8&255, i&255|1, tr, benchPeer(i)))
		raw[i] = RawEntry{Addr: a.Bytes(), LastSeen: now.Add(-time.Duration(i) * time.Second).Truncate(time.Second)}
	}
	return raw
}

// benchBatches cuts the pool into batches of n, in a fixed shuffled order.
func benchBatches(raw []RawEntry, n int) [][]RawEntry {
	var out [][]RawEntry
	for i := 0; i+n <= len(raw); i += n {
		batch := make([]RawEntry, n)
		for j := range batch {
			batch[j] = raw[(i+j)*7919%len(raw)]
		}
		out = append(out, batch)
	}
	return out
}

// BenchmarkDecode100 decodes Addrs replies of 100 entries whose peers
// are mostly new to the book: more of them than its /p2p/ cache holds.
func BenchmarkDecode100(b *testing.B) { benchDecode(b, benchPool) }

// BenchmarkDecode100Cached decodes Addrs replies of 100 entries from a
// network of 2000 peers (the size of the dnodebench responder's book),
// which the /p2p/ cache holds after the first replies.
func BenchmarkDecode100Cached(b *testing.B) { benchDecode(b, 2000) }

func benchDecode(b *testing.B, peers int) {
	batches := benchBatches(benchRaw(b)[:peers], 100)
	book := New(Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if n := len(book.Decode(batches[i%len(batches)])); n != 100 {
			b.Fatalf("decoded %d entries, want 100", n)
		}
	}
}

// BenchmarkInsert100 inserts decoded replies of 100 entries from one
// source, as the addr protocol does after Decode: the source's buckets
// are full, so entries evict older ones or are dropped.
func BenchmarkInsert100(b *testing.B) {
	raw := benchRaw(b)
	book := New(Config{})
	batches := benchBatches(raw, 100)
	decoded := make([][]Entry, len(batches))
	for i, batch := range batches {
		decoded[i] = parseAll(batch)
	}
	src := benchPeer(-1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		book.Insert(src, decoded[i%len(decoded)])
	}
}

// BenchmarkSelect100 selects replies of 100 entries (50 tcp, then quic)
// from a book of 1000 tcp and 1000 quic-v1 white entries.
func BenchmarkSelect100(b *testing.B) {
	book := New(Config{})
	raw := benchRaw(b)[:2000]
	book.mu.Lock()
	for _, e := range parseAll(raw) {
		it, ok := newItem(e.Addr, e.Peer)
		if !ok {
			b.Fatal("invalid entry")
		}
		it.ts = e.LastSeen.Unix()
		book.addLocked(White, it)
	}
	book.mu.Unlock()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if n := len(book.Select(50, []string{"tcp"})); n != 100 {
			b.Fatalf("selected %d entries, want 100", n)
		}
	}
}
