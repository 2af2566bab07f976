package addrbook

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// ip4In is host h (< 65536) of the g-th global /16 (g < 22528): 11.0/16,
// 11.1/16, ..., so that every g is its own netgroup.
func ip4In(g, h int) string {
	return fmt.Sprintf("%d.%d.%d.%d", 11+g/256, g%256, h/256, h%256)
}

func groupOf(g int) string { return Netgroup(ma.StringCast("/ip4/" + ip4In(g, 1))) }

func secretOf(seed uint64) *[secretSize]byte {
	return &newGreyBuckets(rand.New(rand.NewPCG(seed, seed))).secret
}

func TestBucketIndex(t *testing.T) {
	t.Parallel()
	s1, s2 := secretOf(1), secretOf(2)
	if *s1 == *s2 {
		t.Fatal("two seeds gave one secret")
	}
	// One source group reaches at most SourceBuckets buckets, whatever
	// the address groups; one (source, address) pair one bucket.
	src := groupOf(0)
	reached := map[int]bool{}
	for g := range 10000 {
		i := bucketIndex(s1, src, groupOf(g))
		if i < 0 || i >= GreyBuckets {
			t.Fatalf("bucket %d out of range", i)
		}
		if bucketIndex(s1, src, groupOf(g)) != i {
			t.Fatal("bucketIndex not deterministic")
		}
		reached[i] = true
	}
	if len(reached) > SourceBuckets || len(reached) < 2 {
		t.Fatalf("one source group reached %d buckets, want 2..%d", len(reached), SourceBuckets)
	}
	// Many source groups spread over every bucket, roughly evenly.
	count := make([]int, GreyBuckets)
	const n = 8000
	for g := range n {
		count[bucketIndex(s1, groupOf(g), groupOf(g+1))]++
	}
	for i, c := range count {
		if c < n/GreyBuckets/2 || c > n/GreyBuckets*2 {
			t.Fatalf("bucket %d got %d of %d (mean %d)", i, c, n, n/GreyBuckets)
		}
	}
	// The secret decides the layout: another secret moves most groups.
	moved := 0
	for g := range 1000 {
		if bucketIndex(s1, groupOf(g), groupOf(g)) != bucketIndex(s2, groupOf(g), groupOf(g)) {
			moved++
		}
	}
	if moved < 900 {
		t.Fatalf("only %d of 1000 groups moved with another secret", moved)
	}
	// Fields are length-prefixed: shifting bytes between them changes
	// the hash.
	if keyedHash(s1, 'b', "ab", "c") == keyedHash(s1, 'b', "a", "bc") {
		t.Fatal("field boundary not hashed")
	}
}

// sourceBook returns a bucketed book whose sources are connected from the
// addresses in from.
func sourceBook(t *testing.T, from map[peer.ID]string) *Book {
	b, _ := newTestBook(t, Config{
		Rand: rand.NewPCG(7, 7),
		Node: sourceNode(from),
	})
	return b
}

// One netgroup of sources, however many identities it has, fills at most
// SourceBuckets buckets; entries of other sources in other buckets stay.
func TestBucketsConfineSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		from := map[peer.ID]string{}
		const attackers = 200
		for i := range attackers {
			from[testPeer(-1-i)] = ip4In(20000, i)
		}
		honest := testPeer(-5000)
		from[honest] = ip4In(20001, 1)
		b := sourceBook(t, from)
		honestSeen := epoch.Add(-time.Hour)
		// Each identity's entries are a second fresher than the last one's,
		// so they evict earlier ones from full buckets, except every tenth
		// identity's, older than all the others, which full buckets refuse
		// (whatever the list's order among equal times).
		atkSeen := func(i int) time.Time {
			if i%10 == 9 {
				i = -1
			}
			return epoch.Add(-time.Duration(attackers-i) * time.Second)
		}

		// The honest source's entries first, in distinct /16s and old.
		var hs []Entry
		for g := range 60 {
			hs = append(hs, tcpEntry(t, ip4In(g, 1), testPeer(g), honestSeen))
		}
		if n := b.Insert(honest, hs); n == 0 {
			t.Fatal("honest entries not stored")
		}
		before := greyPeers(b)

		// 200 attacker identities on one /16 send fresh entries over 10000 /16s.
		next := 100000
		for i := range attackers {
			var es []Entry
			for range 50 {
				es = append(es, tcpEntry(t, ip4In(1000+next%10000, next/10000), testPeer(next), atkSeen(i)))
				next++
			}
			b.Insert(testPeer(-1-i), es)
		}
		mustInvariants(t, b)
		attackerHeld := 0
		for _, e := range b.Entries(Grey) {
			if e.LastSeen.After(honestSeen) {
				attackerHeld++
			}
		}
		if attackerHeld > SourceBuckets*GreyBucketSize {
			t.Fatalf("one source /16 holds %d grey entries, bound %d", attackerHeld, SourceBuckets*GreyBucketSize)
		}
		if attackerHeld < GreyBucketSize {
			t.Fatalf("attacker holds only %d: the flood did not fill a bucket", attackerHeld)
		}
		// Honest entries lost only in the buckets the attacker reached.
		atkBuckets := map[int]bool{}
		for _, it := range b.lists[Grey].items {
			if it.ts > honestSeen.Unix() {
				atkBuckets[it.bkt-1] = true
			}
		}
		after := greyPeers(b)
		for p, bkt := range before {
			if _, ok := after[p]; !ok && !atkBuckets[bkt] {
				t.Fatalf("honest entry evicted from bucket %d, which the attacker never reached", bkt)
			}
		}
		if len(after)-attackerHeld < len(before)/2 {
			t.Fatalf("honest entries %d of %d left", len(after)-attackerHeld, len(before))
		}
		if st := b.Stats(); st.BucketEvicted == 0 || st.BucketDropped == 0 {
			t.Fatalf("stats %+v", st)
		}

		// The same flood on a flat greylist evicts every honest entry.
		flat, _ := newTestBook(t, Config{FlatGreylist: true})
		flat.Insert(honest, hs)
		next = 100000
		for i := range attackers {
			var es []Entry
			for range 50 {
				es = append(es, tcpEntry(t, ip4In(1000+next%10000, next/10000), testPeer(next), epoch))
				next++
			}
			flat.Insert(testPeer(-1-i), es)
		}
		for _, e := range flat.Entries(Grey) {
			if !e.LastSeen.Equal(epoch) {
				t.Fatal("flat greylist kept an honest entry: the comparison is wrong")
			}
		}
	})
}

// greyPeers maps each Grey peer to its bucket.
func greyPeers(b *Book) map[peer.ID]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[peer.ID]int{}
	for _, it := range b.lists[Grey].items {
		out[it.peer] = it.bkt - 1
	}
	return out
}

// A full bucket evicts its own oldest entry for a newer one and refuses an
// older one; other buckets are untouched.
func TestBucketEviction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := testPeer(-1)
		b := sourceBook(t, map[peer.ID]string{src: ip4In(20000, 1)})
		sg := b.sourceGroup(src)
		// Address groups that this source maps to bucket target, and one
		// that goes elsewhere.
		var target, other = -1, -1
		var inTarget []int
		for g := 0; g < 5000 && (len(inTarget) < GreyBucketSize+2 || other < 0); g++ {
			i := bucketIndex(&b.buckets.secret, sg, groupOf(g))
			switch {
			case target < 0:
				target = i
				inTarget = append(inTarget, g)
			case i == target:
				inTarget = append(inTarget, g)
			case other < 0:
				other = g
			}
		}
		if len(inTarget) < GreyBucketSize+2 || other < 0 {
			t.Fatal("could not find address groups for the test")
		}
		e := func(g, i int, age time.Duration) Entry {
			return tcpEntry(t, ip4In(g, 1), testPeer(i), epoch.Add(-age))
		}
		// The other bucket's entry, oldest of all.
		if b.Insert(src, []Entry{e(other, 0, 10*time.Hour)}) != 1 {
			t.Fatal("other bucket's entry not stored")
		}
		// Fill the target bucket: ages 1..25 minutes.
		for k := range GreyBucketSize {
			if b.Insert(src, []Entry{e(inTarget[k], 1+k, time.Duration(k+1)*time.Minute)}) != 1 {
				t.Fatalf("entry %d not stored", k)
			}
		}
		if got := len(b.buckets.members[target]); got != GreyBucketSize {
			t.Fatalf("target holds %d", got)
		}
		// Older than all: dropped.
		if b.Insert(src, []Entry{e(inTarget[GreyBucketSize], 100, time.Hour)}) != 0 {
			t.Fatal("an entry older than a full bucket was stored")
		}
		// Newer: the bucket's oldest (25 minutes, peer 25) goes.
		if b.Insert(src, []Entry{e(inTarget[GreyBucketSize+1], 101, 0)}) != 1 {
			t.Fatal("a newer entry was refused")
		}
		if _, ok := b.Contains(testPeer(GreyBucketSize)); ok {
			t.Fatal("the bucket's oldest entry was not evicted")
		}
		if _, ok := b.Contains(testPeer(0)); !ok {
			t.Fatal("an entry of another bucket was evicted")
		}
		if st := b.Stats(); st.BucketEvicted != 1 || st.BucketDropped != 1 {
			t.Fatalf("stats evicted %d dropped %d", st.BucketEvicted, st.BucketDropped)
		}
		mustInvariants(t, b)
		// Entries leaving grey free their bucket.
		b.Remove(testPeer(101))
		if got := len(b.buckets.members[target]); got != GreyBucketSize-1 {
			t.Fatalf("after remove, target holds %d", got)
		}
		mustInvariants(t, b)
	})
}

// Grey picks go bucket first: 25 entries in one bucket weigh as much as
// one entry alone in another.
func TestBucketedPick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{Rand: rand.NewPCG(3, 3)})
		// Sourceless entries of one /16 share one bucket: 25 of group 0, and
		// one each of groups in other buckets.
		var es []Entry
		for k := range GreyBucketSize {
			es = append(es, tcpEntry(t, ip4In(0, k+1), testPeer(k), epoch))
		}
		b.Insert("", es)
		crowdedBucket := b.buckets.itemBucket(b.lists[Grey].items[0])
		lone := map[peer.ID]bool{}
		used := map[int]bool{crowdedBucket: true}
		for g := 1; len(lone) < 5; g++ {
			p := testPeer(1000 + g)
			e := tcpEntry(t, ip4In(g, 1), p, epoch)
			it, _ := newItem(e.Addr, p)
			if i := b.buckets.itemBucket(it); !used[i] {
				used[i] = true
				b.Insert("", []Entry{e})
				lone[p] = true
			}
		}
		mustInvariants(t, b)
		const draws = 6000
		hits := 0
		for range draws {
			e, err := b.Pick(false, true, nil)
			if err != nil {
				t.Fatal(err)
			}
			if lone[e.Peer] {
				hits++
			}
			b.Release(e.Peer)
		}
		// 5 of 6 buckets hold a lone entry: about 5/6 of the picks (uniform
		// over entries would give 5/30).
		if share := float64(hits) / draws; share < 0.78 || share > 0.88 {
			t.Fatalf("lone entries drawn %.3f of the time, want about 0.83", share)
		}
		// The refinery picks the same way.
		hits = 0
		for range draws {
			e, err := b.BeginRefine()
			if err != nil {
				t.Fatal(err)
			}
			if lone[e.Peer] {
				hits++
			}
			b.Release(e.Peer)
		}
		if share := float64(hits) / draws; share < 0.78 || share > 0.88 {
			t.Fatalf("refinery drew lone entries %.3f of the time", share)
		}
	})
}

// Localnet and FlatGreylist keep DarkFi's single greylist: GreyMax
// entries of one /16 from one source all fit.
func TestLocalnetGreylistIsFlat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, c := range []struct {
			cfg  Config
			ip16 string
		}{{Config{Localnet: true}, "127.0"}, {Config{FlatGreylist: true}, "11.0"}} {
			b, _ := newTestBook(t, c.cfg)
			if b.buckets != nil {
				t.Fatalf("%+v: buckets on", c.cfg)
			}
			var es []Entry
			for i := range GreyMax + 100 {
				es = append(es, tcpEntry(t, fmt.Sprintf("%s.%d.%d", c.ip16, i/250, i%250+1), testPeer(i), epoch))
			}
			b.Insert(testPeer(-1), es[:GreyMax/10])
			b.Insert("", es)
			if b.Len(Grey) != GreyMax {
				t.Fatalf("%+v: greylist of one /16 holds %d, want %d", c.cfg, b.Len(Grey), GreyMax)
			}
			mustInvariants(t, b)
		}
	})
}

// Loaded entries have no source: one /16 shares one bucket (the newest
// GreyBucketSize kept), distinct /16s are all kept. An old v1 file loads.
func TestLoadFillsBuckets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{Rand: rand.NewPCG(5, 5)})
		var sb strings.Builder
		sb.WriteString(FileHeader + "\n")
		for i := range 40 { // one /16
			fmt.Fprintf(&sb, "grey\t/ip4/%s/tcp/1/p2p/%s\t%d\n", ip4In(0, i+1), testPeer(i), 1000+i)
		}
		for g := 1; g <= 30; g++ {
			fmt.Fprintf(&sb, "grey\t/ip4/%s/tcp/1/p2p/%s\t%d\n", ip4In(g, 1), testPeer(100+g), 500)
		}
		path := filepath.Join(t.TempDir(), "h.tsv")
		if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Load(path); err != nil {
			t.Fatal(err)
		}
		mustInvariants(t, b)
		kept0 := 0
		for i := range 40 {
			if _, ok := b.Contains(testPeer(i)); ok {
				kept0++
				if i < 40-GreyBucketSize {
					t.Fatalf("old entry %d of the crowded /16 kept over a newer one", i)
				}
			}
		}
		if kept0 != GreyBucketSize {
			t.Fatalf("crowded /16 kept %d, want %d", kept0, GreyBucketSize)
		}
		// The 30 lone /16s fit unless their bucket is the crowded one's.
		crowded := b.buckets.itemBucket(b.lists[Grey].items[0])
		for g := 1; g <= 30; g++ {
			it, _ := newItem(mustMA(t, fmt.Sprintf("/ip4/%s/tcp/1/p2p/%s", ip4In(g, 1), testPeer(100+g))), "")
			if _, ok := b.Contains(testPeer(100 + g)); !ok && b.buckets.itemBucket(it) != crowded {
				t.Fatalf("lone /16 %d lost", g)
			}
		}
	})
}

// A greylist host that fails a dial stays in its source's bucket and
// quota; one that falls back from Gold is filed under its own netgroup.
func TestFailedKeepsSourceBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := testPeer(-1)
		b := sourceBook(t, map[peer.ID]string{src: ip4In(20000, 1)})
		e := tcpEntry(t, ip4In(5, 1), testPeer(1), epoch.Add(-time.Minute))
		if b.Insert(src, []Entry{e}) != 1 {
			t.Fatal("not stored")
		}
		bucketOf := func() (int, peer.ID) {
			b.mu.Lock()
			defer b.mu.Unlock()
			it := b.lists[Grey].get(string(e.Addr.Bytes()))
			if it == nil {
				t.Fatal("entry left grey")
			}
			return it.bkt - 1, it.src
		}
		before, _ := bucketOf()
		if want := bucketIndex(&b.buckets.secret, b.sourceGroup(src), Netgroup(e.Addr)); before != want {
			t.Fatalf("bucket %d, want the source's %d", before, want)
		}
		if _, err := b.Pick(false, true, nil); err != nil {
			t.Fatal(err)
		}
		if err := b.Failed(e); err != nil {
			t.Fatal(err)
		}
		if after, s := bucketOf(); after != before || s != src {
			t.Fatalf("after a failed dial: bucket %d (was %d), source %v", after, before, s)
		}
		mustInvariants(t, b)
		// Through Gold and back: its own netgroup's bucket, no source.
		b.Release(e.Peer)
		if err := b.Take(e); err != nil {
			t.Fatal(err)
		}
		if err := b.Connected(e); err != nil {
			t.Fatal(err)
		}
		b.Disconnected(e)
		own := bucketIndex(&b.buckets.secret, Netgroup(e.Addr), Netgroup(e.Addr))
		if after, s := bucketOf(); after != own || s != "" {
			t.Fatalf("back from gold: bucket %d (own group's %d), source %v", after, own, s)
		}
		mustInvariants(t, b)
	})
}

// sourceNode is a Node that knows the IPv4 address each source peer is
// connected from.
type sourceNode map[peer.ID]string

func (s sourceNode) OwnAddrs() []ma.Multiaddr           { return nil }
func (s sourceNode) ManualPeers() []peer.ID             { return nil }
func (s sourceNode) Refused(peer.ID, ma.Multiaddr) bool { return false }
func (s sourceNode) SourceAddr(p peer.ID) ma.Multiaddr {
	if ip, ok := s[p]; ok {
		return ma.StringCast("/ip4/" + ip + "/tcp/1")
	}
	return nil
}
