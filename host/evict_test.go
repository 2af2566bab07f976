package host

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// t0 is the start of the test clock; cand(i) connected i minutes after
// it, so a larger index is a younger channel.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// cand returns candidate i of netgroup g, connected at minute i.
func cand(i int, g uint64) Candidate {
	return Candidate{Peer: peer.ID(fmt.Sprintf("peer-%03d", i)), Netgroup: g, Connected: t0.Add(time.Duration(i) * time.Minute)}
}

func pid(i int) peer.ID { return cand(i, 0).Peer }

// Each class has a test in which dropping that class changes the victim
// to the peer the class protects.
func TestSelectVictimClasses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cands func() []Candidate
		want  peer.ID // "" for no eviction
		kept  peer.ID // the peer the rule under test protects
	}{
		{
			// Six singleton netgroups; the youngest has the highest key.
			// Without the class the youngest would go (all groups are
			// of size 1: the youngest member wins the tie).
			name: "netgroup: 4 distinct netgroups kept",
			cands: func() []Candidate {
				var cs []Candidate
				for i := range 6 {
					cs = append(cs, cand(i, uint64(10+i)))
				}
				return cs
			},
			// Kept by netgroup: 5, 4, 3, 2; by uptime: 0 (half of 2).
			want: pid(1), kept: pid(5),
		},
		{
			// One netgroup; the youngest has the only RTT.
			name: "ping: lowest RTT kept",
			cands: func() []Candidate {
				var cs []Candidate
				for i := range 10 {
					cs = append(cs, cand(i, 1))
				}
				cs[9].RTT = time.Millisecond
				return cs
			},
			// Netgroup: 0; ping: 9; uptime: 1-4 of 1-8.
			want: pid(8), kept: pid(9),
		},
		{
			name: "useful: most recent relay traffic kept",
			cands: func() []Candidate {
				var cs []Candidate
				for i := range 10 {
					cs = append(cs, cand(i, 1))
				}
				cs[9].LastUseful = t0.Add(time.Hour)
				return cs
			},
			want: pid(8), kept: pid(9),
		},
		{
			// Netgroup A holds the four oldest, B three young ones. With
			// the class A's 2 and 3 are kept by uptime and B is the
			// largest netgroup left; without it A is, and 4 would go.
			name: "uptime: longest-connected half kept",
			cands: func() []Candidate {
				return []Candidate{cand(1, 2), cand(2, 2), cand(3, 2), cand(4, 2), cand(5, 1), cand(6, 1), cand(7, 1)}
			},
			// Netgroup: 1 (A, key 2), 5 (B); uptime: 2, 3 of 2,3,4,6,7.
			want: pid(7), kept: pid(4),
		},
		{
			name: "protected: never chosen, counts in no class",
			cands: func() []Candidate {
				var cs []Candidate
				for i := range 10 {
					cs = append(cs, cand(i, 1))
				}
				cs[9].Protected = true
				return cs
			},
			// 0-8: netgroup 0; uptime 1-4 of 1-8.
			want: pid(8), kept: pid(9),
		},
		{
			name: "largest netgroup's youngest goes",
			cands: func() []Candidate {
				cs := []Candidate{cand(0, 1), cand(1, 2), cand(2, 3), cand(3, 4)}
				for i := 10; i < 30; i++ {
					cs = append(cs, cand(i, uint64(5+i%2))) // 5: even, 6: odd
				}
				cs = append(cs, cand(40, 7), cand(41, 7))
				return cs
			},
			// Netgroup keeps 7 (40), 6 (11), 5 (10), 4 (3); uptime keeps
			// the 11 oldest of 0-2, 12-29, 41; left: 20-29 and 41.
			// Netgroups 5 and 6 have 5 each; 6 holds the youngest (29).
			want: pid(29), kept: pid(28),
		},
		{
			name: "netgroup: one kept per netgroup; the one left goes",
			cands: func() []Candidate {
				return []Candidate{cand(0, 1), cand(1, 1), cand(2, 2)}
			},
			// Netgroup: 0 (1), 2 (2); uptime keeps nothing of 1: 1 goes.
			want: pid(1), kept: pid(0),
		},
		{
			name:  "one candidate is its netgroup's: no eviction",
			cands: func() []Candidate { return []Candidate{cand(0, 1)} },
			want:  "", kept: pid(0),
		},
		{
			name: "only protected candidates: no eviction",
			cands: func() []Candidate {
				c := cand(0, 1)
				c.Protected = true
				return []Candidate{c}
			},
			want: "", kept: pid(0),
		},
		{name: "no candidates: no eviction", cands: func() []Candidate { return nil }, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := SelectVictim(tc.cands())
			if ok != (tc.want != "") || got != tc.want {
				t.Fatalf("SelectVictim = %q, %v; want %q", string(got), ok, string(tc.want))
			}
			if tc.kept != "" && got == tc.kept {
				t.Fatalf("evicted %q, which the rule protects", string(got))
			}
		})
	}
}

// The ping class prefers the lowest RTT, the useful class the most recent
// delivery, among several candidates.
func TestSelectVictimClassOrder(t *testing.T) {
	var cs []Candidate
	for i := range 20 {
		cs = append(cs, cand(i, 1))
	}
	// RTTs for 8..17: the 8 lowest are 10..17; 8 and 9 are slow.
	for i := 8; i < 18; i++ {
		cs[i].RTT = time.Duration(30-i) * time.Millisecond
	}
	// Useful for 18, 19 and the slow 8 and 9: all four kept.
	for _, i := range []int{8, 9, 18, 19} {
		cs[i].LastUseful = t0.Add(time.Duration(i) * time.Hour)
	}
	// Netgroup: 0. Ping: 10-17. Useful: 8, 9, 18, 19. Uptime: 1-3 of 1-7.
	// Left 4-7: 7 goes.
	if got, _ := SelectVictim(cs); got != pid(7) {
		t.Fatalf("victim %q, want %q", string(got), string(pid(7)))
	}
	// 7 becomes the slowest of nine with an RTT and the least recent of
	// five useful ones: the classes keep the best, so it still goes.
	cs[7].RTT = time.Second
	cs[7].LastUseful = t0.Add(time.Minute)
	if got, _ := SelectVictim(cs); got != pid(7) {
		t.Fatalf("victim %q, want %q", string(got), string(pid(7)))
	}
}

// randomCands returns n candidates over a few netgroups with random
// RTTs, useful times and protection.
func randomCands(r *rand.Rand, n int) []Candidate {
	groups := 1 + r.IntN(8)
	cs := make([]Candidate, n)
	for i := range cs {
		c := cand(i, uint64(r.IntN(groups)))
		c.Connected = t0.Add(time.Duration(r.IntN(50)) * time.Minute) // ties on purpose
		if r.IntN(3) > 0 {
			c.RTT = time.Duration(1+r.IntN(20)) * time.Millisecond
		}
		if r.IntN(3) == 0 {
			c.LastUseful = t0.Add(time.Duration(r.IntN(20)) * time.Minute)
		}
		c.Protected = r.IntN(6) == 0
		cs[i] = c
	}
	return cs
}

// Over random candidate sets: a Protected candidate is never chosen;
// the victim has at least ProtectPing unprotected candidates with a
// lower RTT if it has an RTT, and at least ProtectUseful with a more
// recent useful delivery if it has one (each class keeps the best of a
// subset that includes the victim); some candidate is chosen whenever
// more unprotected candidates exist than the classes keep; and the
// choice does not depend on the candidates' order.
func TestSelectVictimProperties(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	evictions := 0
	for trial := range 2000 {
		cs := randomCands(r, r.IntN(60))
		victim, ok := SelectVictim(cs)
		var v Candidate
		unprotected := 0
		for _, c := range cs {
			if !c.Protected {
				unprotected++
			}
			if c.Peer == victim {
				v = c
			}
		}
		if !ok {
			// The classes keep at most 4+8+4; half of one left is none.
			if unprotected > ProtectNetgroups+ProtectPing+ProtectUseful {
				t.Fatalf("trial %d: no eviction among %d unprotected candidates", trial, unprotected)
			}
			continue
		}
		evictions++
		if v.Protected {
			t.Fatalf("trial %d: evicted protected %q", trial, victim)
		}
		lowerRTT, moreUseful := 0, 0
		for _, c := range cs {
			if c.Protected || c.Peer == victim {
				continue
			}
			if c.RTT > 0 && (v.RTT == 0 || c.RTT < v.RTT || c.RTT == v.RTT && byAge(c, v) < 0) {
				lowerRTT++
			}
			if !c.LastUseful.IsZero() && (c.LastUseful.After(v.LastUseful) || c.LastUseful.Equal(v.LastUseful) && byAge(c, v) < 0) {
				moreUseful++
			}
		}
		if v.RTT > 0 && lowerRTT < ProtectPing {
			t.Fatalf("trial %d: evicted %q with the %d-th lowest RTT", trial, victim, lowerRTT+1)
		}
		if !v.LastUseful.IsZero() && moreUseful < ProtectUseful {
			t.Fatalf("trial %d: evicted %q with the %d-th most recent useful delivery", trial, victim, moreUseful+1)
		}
		shuffled := append([]Candidate(nil), cs...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if again, _ := SelectVictim(shuffled); again != victim {
			t.Fatalf("trial %d: victim %q, %q after shuffling the candidates", trial, victim, again)
		}
	}
	if evictions < 500 {
		t.Fatalf("only %d of 2000 trials evicted: the generator does not exercise the rule", evictions)
	}
}

// BenchmarkSelectVictim measures one choice among n candidates (the gater
// makes it for each newcomer at the cap).
func BenchmarkSelectVictim(b *testing.B) {
	for _, n := range []int{8, 125, 512} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cs := randomCands(rand.New(rand.NewPCG(1, uint64(n))), n)
			for i := range cs {
				cs[i].Netgroup = uint64(i % 40)
			}
			b.ReportAllocs()
			for b.Loop() {
				SelectVictim(cs)
			}
		})
	}
}
