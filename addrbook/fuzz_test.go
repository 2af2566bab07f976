package addrbook

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// FuzzHostlistParse loads arbitrary bytes as a hostlist file: Load never
// panics or fails, the lists stay within their caps, and a file that
// loads saves and reloads to the same entries.
func FuzzHostlistParse(f *testing.F) {
	p1, p2 := testPeer(1).String(), testPeer(2).String()
	f.Add([]byte(FileHeader + "\n"))
	f.Add([]byte(FileHeader + "\ngrey\t/ip4/8.8.8.8/tcp/1/p2p/" + p1 + "\t1699999000\n"))
	f.Add([]byte(FileHeader + "\ndark\t/ip4/8.8.8.8/udp/1/quic-v1/webtransport/p2p/" + p1 + "\t1699999000\n" +
		"grey\t/ip6/2600::1/tcp/1/p2p/" + p2 + "\t1\nwhite\t/dns/a.org/tcp/1/ws/p2p/" + p1 + "\t2\n" +
		"gold\t/ip4/1.1.1.1/udp/4/quic-v1/p2p/" + p1 + "\t9999999999\n"))
	f.Add([]byte(FileHeader + "\nblack\t/ip4/8.8.8.8/tcp/1/p2p/" + p1 + "\t1\n"))
	f.Add([]byte(FileHeader + "\ngrey\t/ip4/8.8.8.8/tcp/1/p2p/" + p1 + "\t1"))
	f.Add([]byte("grey\t/ip4/8.8.8.8/tcp/1/p2p/" + p1 + "\t1\n"))
	f.Add([]byte(FileHeader + "\ngrey\t/ipfs/" + p1 + "\t1\n"))
	f.Add([]byte(FileHeader + "\ngrey\t/ip4/10.0.0.1/tcp/1/p2p/" + p1 + "\t1\n"))
	f.Add([]byte{})
	f.Add([]byte("\xff\xfe\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			toEpoch(t)
			// One bucket secret for both books, so that the reload fills the
			// same buckets.
			b := New(Config{Self: testPeer(3), Rand: rand.NewPCG(1, 2)})
			// The file I/O around it is covered by the hostlist tests; fuzzing
			// runs the parser and the installer in memory, without fsyncs.
			n, _, err := b.loadData(data)
			if err != nil {
				for _, c := range savedColors {
					if b.Len(c) != 0 {
						t.Fatalf("invalid file (%v) but %s holds %d", err, c, b.Len(c))
					}
				}
				return
			}
			if err := checkInvariants(b); err != nil {
				t.Fatal(err)
			}
			saved := b.encode()
			b2 := New(Config{Self: testPeer(3), Rand: rand.NewPCG(1, 2)})
			n2, bad, err := b2.loadData(saved)
			if err != nil || n2 != n || len(bad) != 0 {
				t.Fatalf("reload: %d of %d, %d lines skipped, %v", n2, n, len(bad), err)
			}
			for _, c := range savedColors {
				x, y := b.Entries(c), b2.Entries(c)
				if len(x) != len(y) {
					t.Fatalf("%s: %d vs %d", c, len(x), len(y))
				}
				for i := range x {
					if !x[i].Addr.Equal(y[i].Addr) || !x[i].LastSeen.Equal(y[i].LastSeen) {
						t.Fatalf("%s[%d]: %v vs %v", c, i, x[i], y[i])
					}
				}
			}
			if again := b2.encode(); !bytes.Equal(saved, again) {
				t.Fatal("encoding is not stable")
			}
		})
	})
}

// fuzzPool is a fixed set of peers and addresses for FuzzBookOps.
type fuzzPool struct {
	peers []peer.ID
	addrs [][]ma.Multiaddr // per peer: tcp, quic, ws, webtransport (undialable), local
}

func newFuzzPool(t testing.TB) *fuzzPool {
	fp := &fuzzPool{}
	for i := range 32 {
		p := testPeer(i)
		ip := fmt.Sprintf("%d.%d.0.%d", 20+i%6, i%3, i+1) // shared /16s
		fp.peers = append(fp.peers, p)
		fp.addrs = append(fp.addrs, []ma.Multiaddr{
			mustMA(t, fmt.Sprintf("/ip4/%s/tcp/4000/p2p/%s", ip, p)),
			mustMA(t, fmt.Sprintf("/ip4/%s/udp/4000/quic-v1/p2p/%s", ip, p)),
			mustMA(t, fmt.Sprintf("/ip4/%s/tcp/4001/ws/p2p/%s", ip, p)),
			mustMA(t, fmt.Sprintf("/ip4/%s/udp/4002/quic-v1/webtransport/p2p/%s", ip, p)),
			mustMA(t, fmt.Sprintf("/ip4/10.0.0.%d/tcp/4000/p2p/%s", i+1, p)),
		})
	}
	return fp
}

// FuzzBookOps runs a byte string as a sequence of operations and checks
// the book's invariants after each one.
func FuzzBookOps(f *testing.F) {
	f.Add([]byte{0, 3, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 2, 0, 1, 0, 4, 0})
	f.Add([]byte{0, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 6, 7, 1, 3, 0, 9, 10, 5, 11})
	f.Add([]byte{0, 1, 5, 9, 9, 9, 9, 9, 1, 3, 3, 1, 2, 1, 6, 7, 0, 12, 0, 13, 1, 8, 3, 10, 200, 9, 14})
	f.Add(bytes.Repeat([]byte{0, 7, 6, 1, 1, 2, 1, 4, 1, 3, 6, 1, 7, 1, 10, 50}, 8))
	f.Add(bytes.Repeat([]byte{0, 2, 9, 250, 17, 33, 49, 65, 81, 97, 113, 129, 145, 1, 0, 15, 3, 11, 1}, 6))
	fp := newFuzzPool(f)
	f.Fuzz(func(t *testing.T, ops []byte) {
		synctest.Test(t, func(t *testing.T) {
			if len(ops) > 4000 {
				ops = ops[:4000]
			}
			toEpoch(t)
			b := New(Config{Self: fp.peers[31], Seeds: []peer.ID{fp.peers[30]}, SourceQuota: 6})
			held := make(map[peer.ID]Entry) // Pick results not yet resolved
			var refining []Entry
			pos := 0
			next := func() int {
				if pos >= len(ops) {
					return 0
				}
				pos++
				return int(ops[pos-1])
			}
			heldEntry := func(k int) (Entry, bool) {
				for _, p := range fp.peers[k%len(fp.peers):] {
					if e, ok := held[p]; ok {
						return e, true
					}
				}
				for _, e := range held {
					return e, true
				}
				return Entry{}, false
			}
			for pos < len(ops) {
				op := next() % 16
				switch op {
				case 0: // insert n entries from a source
					src := fp.peers[next()%8]
					if next()%4 == 0 {
						src = ""
					}
					n := next() % 24
					es := make([]Entry, 0, n)
					for range n {
						k, v := next(), next()
						ts := epoch.Add(time.Duration(int8(next())) * time.Hour)
						es = append(es, Entry{Addr: fp.addrs[k%32][v%5], LastSeen: ts})
					}
					b.Insert(src, es)
				case 1: // pick
					k := next()
					e, err := b.Pick(k&1 == 1, k&2 == 0, nil)
					if err == nil {
						if _, dup := held[e.Peer]; dup {
							t.Fatalf("peer %s picked while held", e.Peer)
						}
						held[e.Peer] = e
					}
				case 2, 3, 4, 5: // resolve a held pick
					e, ok := heldEntry(next())
					if !ok {
						continue
					}
					delete(held, e.Peer)
					switch op {
					case 2:
						if err := b.Connected(e); err != nil {
							b.Release(e.Peer)
						} else if next()%2 == 0 {
							b.Disconnected(e)
						}
					case 3:
						if err := b.Failed(e); err != nil {
							b.Release(e.Peer)
						}
					case 4:
						b.Release(e.Peer)
					case 5:
						b.Disconnected(e)
					}
				case 6: // begin refining
					if e, err := b.BeginRefine(); err == nil {
						refining = append(refining, e)
					}
				case 7: // finish refining
					if len(refining) > 0 {
						e := refining[0]
						refining = refining[1:]
						b.Refined(e, next()%2 == 0)
					}
				case 8: // ban
					k := next()
					var a ma.Multiaddr
					if k&32 != 0 {
						a = fp.addrs[k%32][0]
					}
					b.Ban(fp.peers[k%32], a)
					delete(held, fp.peers[k%32])
				case 9:
					b.Prune()
				case 10: // advance the clock
					time.Sleep(time.Duration(next()) * 10 * time.Minute)
				case 11:
					b.FreeSuspended()
				case 12: // whitelist recheck
					if e, err := b.RecheckWhite(); err == nil {
						b.Rechecked(e, next()%2 == 0)
					}
				case 13:
					b.Remove(fp.peers[next()%32])
				case 14: // select
					mx := next() * 3
					for _, e := range b.Select(mx, []string{"tcp"}) {
						b.mu.Lock()
						bad := b.lists[Grey].get(string(e.Addr.Bytes())) != nil || b.lists[Black].hasPeer(e.Peer)
						b.mu.Unlock()
						if bad {
							t.Fatalf("selected grey or banned %s", e.Addr)
						}
					}
				case 15: // save and load (in memory)
					b2 := New(Config{Self: fp.peers[31]})
					if _, bad, err := b2.loadData(b.encode()); err != nil || len(bad) != 0 {
						t.Fatalf("reload: %v, skipped %v", err, bad)
					}
					if err := checkInvariants(b2); err != nil {
						t.Fatal(err)
					}
				}
				if err := checkInvariants(b); err != nil {
					t.Fatalf("after op %d at %d: %v", op, pos, err)
				}
				for p := range held {
					if s := b.State(p); s != Connect {
						t.Fatalf("held peer in state %s", s)
					}
				}
			}
		})
	})
}
