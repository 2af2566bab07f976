package relay

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/relay/pb"
)

// eh drives one engine in a test: links are numbered from 1, messages
// are built by mk, and every action is described as a short string.
type eh struct {
	t      *testing.T
	e      *engine
	origin []byte // a valid peer ID
}

func newEH(t *testing.T, cfg Config, links ...linkID) *eh {
	t.Helper()
	cfg = cfg.withDefaults()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(k)
	h := &eh{t: t, e: newEngine(cfg), origin: []byte(id)}
	for _, l := range links {
		h.e.StartLink(l, 10*time.Millisecond, time.Now())
		h.e.Frame(l, &pb.Frame{Body: &pb.Frame_Hello{Hello: &pb.Hello{}}}, 2, time.Now())
	}
	return h
}

// mk returns a message of topic "t" from h.origin with the given data
// and hops, timed now.
func (h *eh) mk(data string, hops uint32) *incoming {
	m := &pb.Message{Topic: "t", Origin: h.origin, Time: uint64(time.Now().UnixNano()), Data: []byte(data), Hops: hops}
	return &incoming{m: m, id: MessageID(m.Topic, m.Origin, m.Time, m.Data), size: proto.Size(m) + 2}
}

// recv delivers in on link l (validating as accepted when new).
func (h *eh) recv(l linkID, in *incoming) []action {
	validate, acts := h.e.Message(l, in, time.Now())
	if validate {
		acts = append(acts, h.e.Accept(l, in, verdictAccept, time.Now())...)
	}
	return acts
}

func (h *eh) frame(l linkID, f *pb.Frame) []action {
	return h.e.Frame(l, f, proto.Size(f), time.Now())
}

func (h *eh) tick() []action { return h.e.Tick(time.Now()) }

func shortsOf(ins ...*incoming) []byte {
	var b []byte
	for _, in := range ins {
		b = appendShort(b, in.id.short())
	}
	return b
}

// describe renders actions as sorted strings, e.g. "2 message hops=1",
// "3 ihave n=1", "deliver", "violation 2", "drop hop_limit".
func describe(acts []action) []string {
	var out []string
	for _, a := range acts {
		switch a.kind {
		case actDeliver:
			out = append(out, "deliver")
		case actViolation:
			out = append(out, fmt.Sprintf("violation %d", a.link))
		case actDrop:
			out = append(out, "drop "+a.reason)
		case actTree:
			out = append(out, fmt.Sprintf("tree %d %s", a.link, a.reason))
		case actSend:
			var f pb.Frame
			if err := proto.Unmarshal(append(append([]byte(nil), a.data...), a.tail...), &f); err != nil {
				out = append(out, fmt.Sprintf("%d undecodable", a.link))
				continue
			}
			var d string
			switch b := f.Body.(type) {
			case *pb.Frame_Hello:
				d = "hello"
			case *pb.Frame_Message:
				d = fmt.Sprintf("message hops=%d", b.Message.Hops)
			case *pb.Frame_Ihave:
				d = fmt.Sprintf("ihave n=%d", len(b.Ihave.Hops))
			case *pb.Frame_Offer:
				d = fmt.Sprintf("offer n=%d", len(b.Offer.Hops))
			case *pb.Frame_Iwant:
				d = fmt.Sprintf("iwant n=%d", len(b.Iwant.Ids)/shortLen)
			case *pb.Frame_Graft:
				d = fmt.Sprintf("graft fetch=%d join=%d", len(b.Graft.Fetch)/shortLen, len(b.Graft.Join)/shortLen)
			case *pb.Frame_Prune:
				d = fmt.Sprintf("prune n=%d", len(b.Prune.Ids)/shortLen)
			case *pb.Frame_Digest:
				d = fmt.Sprintf("digest n=%d", len(b.Digest.Ids)/shortLen)
			}
			out = append(out, fmt.Sprintf("%d %s", a.link, d))
		}
	}
	slices.Sort(out)
	return out
}

// step is one input to the engine and the actions it must produce.
type step struct {
	after time.Duration // virtual time to let pass first
	do    func(h *eh) []action
	want  []string // as describe renders them, any order
}

// run runs steps in order on h under synctest's virtual clock.
func (h *eh) run(steps []step) {
	h.t.Helper()
	for i, s := range steps {
		if s.after > 0 {
			time.Sleep(s.after)
		}
		got := describe(s.do(h))
		want := append([]string(nil), s.want...)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			h.t.Fatalf("step %d: actions\n  got  %s\n  want %s", i, strings.Join(got, "; "), strings.Join(want, "; "))
		}
	}
}

// TestEngine runs scenarios of the tree, fetch and limit rules, each a
// sequence of inputs with the exact actions they must produce.
func TestEngine(t *testing.T) {
	small := Config{LazyInterval: 500 * time.Millisecond}
	cases := []struct {
		name  string
		cfg   Config
		links []linkID
		steps func(h *eh) []step
	}{
		{"a new origin floods; a duplicate prunes its link", small, []linkID{1, 2, 3}, func(h *eh) []step {
			m1, m2 := h.mk("one", 0), h.mk("two", 0)
			return []step{
				{do: func(h *eh) []action { return h.recv(1, m1) }, want: []string{"deliver", "2 message hops=1", "3 message hops=1"}},
				{do: func(h *eh) []action { return h.recv(2, m1) }, want: []string{"2 prune n=1", "tree 2 prune"}},
				// 2 is lazy now: m2 is pushed to 3, announced to 2.
				{do: func(h *eh) []action { return h.recv(1, m2) }, want: []string{"deliver", "3 message hops=1"}},
				{after: 499 * time.Millisecond, do: (*eh).tick},
				{after: time.Millisecond, do: (*eh).tick, want: []string{"2 ihave n=1"}},
			}
		}},
		{"announcements leave early with any frame on the link", small, []linkID{1, 2, 3}, func(h *eh) []step {
			m1, m2, m3 := h.mk("one", 0), h.mk("two", 0), h.mk("three", 0)
			return []step{
				{do: func(h *eh) []action { return h.recv(1, m1) }, want: []string{"deliver", "2 message hops=1", "3 message hops=1"}},
				{do: func(h *eh) []action { return h.recv(2, m1) }, want: []string{"2 prune n=1", "tree 2 prune"}},
				{do: func(h *eh) []action { return h.recv(1, m2) }, want: []string{"deliver", "3 message hops=1"}},
				// m3 comes from 2 (it is eager again on its own: it pushed):
				// the batch for... 2 sent m3, so 2 is not announced m3; the
				// pending m2 announcement to 2 stays until the timer.
				{do: func(h *eh) []action { return h.recv(2, m3) }, want: []string{"deliver", "1 message hops=1", "3 message hops=1"}},
				{after: 500 * time.Millisecond, do: (*eh).tick, want: []string{"2 ihave n=1"}},
			}
		}},
		{"an announcer that has it cancels our announcement to it", small, []linkID{1, 2, 3}, func(h *eh) []step {
			m1, m2 := h.mk("one", 0), h.mk("two", 0)
			return []step{
				{do: func(h *eh) []action { return h.recv(1, m1) }, want: []string{"deliver", "2 message hops=1", "3 message hops=1"}},
				{do: func(h *eh) []action { return h.recv(2, m1) }, want: []string{"2 prune n=1", "tree 2 prune"}},
				{do: func(h *eh) []action { return h.recv(1, m2) }, want: []string{"deliver", "3 message hops=1"}},
				{do: func(h *eh) []action {
					return h.frame(2, &pb.Frame{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: shortsOf(m2), Hops: []byte{1}}}})
				}},
				{after: time.Second, do: (*eh).tick},
			}
		}},
		{"a missing announced message is grafted after the timeout, then from the next announcer", small, []linkID{1, 2}, func(h *eh) []step {
			m := h.mk("lost", 3)
			ih := &pb.Frame{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: shortsOf(m), Hops: []byte{4}}}}
			return []step{
				{do: func(h *eh) []action { return h.frame(1, ih) }},
				{do: func(h *eh) []action { return h.frame(2, ih) }},
				// RTT 10 ms: graft timeout max(4×10+50, 150) = 150 ms.
				{after: 149 * time.Millisecond, do: (*eh).tick},
				{after: time.Millisecond, do: (*eh).tick, want: []string{"1 graft fetch=1 join=0"}},
				// Link 1 does not answer within the fetch timeout: link 2 is asked.
				{after: 150 * time.Millisecond, do: (*eh).tick, want: []string{"2 graft fetch=1 join=0"}},
				// 2 answers: delivered; 2 is now a tree link, 1 gets nothing
				// (it announced the message, so it has it).
				{do: func(h *eh) []action { return h.recv(2, m) }, want: []string{"deliver"}},
				// 1's late answer is a duplicate we asked for: no prune.
				{do: func(h *eh) []action { return h.recv(1, m) }},
			}
		}},
		{"a message that arrives in time cancels the fetch", small, []linkID{1, 2}, func(h *eh) []step {
			m := h.mk("x", 0)
			return []step{
				{do: func(h *eh) []action {
					return h.frame(2, &pb.Frame{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: shortsOf(m), Hops: []byte{0}}}})
				}},
				{after: 10 * time.Millisecond, do: func(h *eh) []action { return h.recv(1, m) }, want: []string{"deliver"}},
				{after: time.Second, do: (*eh).tick},
			}
		}},
		{"a graft joins the tree and gets the message; an unknown id is a miss", small, []linkID{1, 2, 3}, func(h *eh) []step {
			m1, m2 := h.mk("one", 0), h.mk("two", 0)
			other := h.mk("never seen", 0)
			return []step{
				{do: func(h *eh) []action { return h.recv(1, m1) }, want: []string{"deliver", "2 message hops=1", "3 message hops=1"}},
				{do: func(h *eh) []action { return h.recv(3, m1) }, want: []string{"3 prune n=1", "tree 3 prune"}},
				{do: func(h *eh) []action {
					return h.frame(3, &pb.Frame{Body: &pb.Frame_Graft{Graft: &pb.Graft{Fetch: shortsOf(m1, other)}}})
				}, want: []string{"3 message hops=1", "tree 3 graft", "drop unknown"}},
				// 3 is eager again: m2 is pushed to 2 and 3.
				{do: func(h *eh) []action { return h.recv(1, m2) }, want: []string{"deliver", "2 message hops=1", "3 message hops=1"}},
			}
		}},
		{"an announcement of a much shorter path moves the tree", small, []linkID{1, 2, 3}, func(h *eh) []step {
			m1 := h.mk("far", 5) // we are at distance 6 through link 1
			return []step{
				{do: func(h *eh) []action { return h.recv(1, m1) }, want: []string{"deliver", "2 message hops=6", "3 message hops=6"}},
				{do: func(h *eh) []action { return h.recv(2, m1) }, want: []string{"2 prune n=1", "tree 2 prune"}},
				// 2 has it at distance 3: 3+1+2 ≤ 6, so 2 replaces 1.
				{do: func(h *eh) []action {
					return h.frame(2, &pb.Frame{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: shortsOf(m1), Hops: []byte{3}}}})
				}, want: []string{"2 graft fetch=0 join=1", "1 prune n=1", "tree 2 graft", "tree 1 prune"}},
				// A path only one hop shorter does not move it again.
				{do: func(h *eh) []action {
					return h.frame(3, &pb.Frame{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: shortsOf(m1), Hops: []byte{2}}}})
				}},
			}
		}},
		{"large messages are offered, never pushed, and fetched from one offerer at a time", Config{EagerMaxSize: 8}, []linkID{1, 2, 3}, func(h *eh) []step {
			m := h.mk("a message longer than eight bytes", 0)
			offer := func(hops uint8) *pb.Frame {
				return &pb.Frame{Body: &pb.Frame_Offer{Offer: &pb.Offer{Ids: shortsOf(m), Hops: []byte{hops}, Sizes: []uint64{uint64(len(m.m.Data))}}}}
			}
			return []step{
				{do: func(h *eh) []action { return h.frame(1, offer(0)) }, want: []string{"1 iwant n=1"}},
				{do: func(h *eh) []action { return h.frame(2, offer(1)) }},
				{do: func(h *eh) []action { return h.recv(1, m) }, want: []string{"deliver", "3 offer n=1"}},
				{do: func(h *eh) []action { return h.frame(3, offer(1)) }},
				{after: 5 * time.Second, do: (*eh).tick},
			}
		}},
		{"a slow offerer is replaced after its fetch timeout", Config{EagerMaxSize: 8}, []linkID{1, 2}, func(h *eh) []step {
			m := h.mk("a message longer than eight bytes", 0)
			offer := &pb.Frame{Body: &pb.Frame_Offer{Offer: &pb.Offer{Ids: shortsOf(m), Hops: []byte{0}, Sizes: []uint64{1 << 20}}}}
			return []step{
				{do: func(h *eh) []action { return h.frame(1, offer) }, want: []string{"1 iwant n=1"}},
				{do: func(h *eh) []action { return h.frame(2, offer) }},
				// 150 ms + 1 s per MiB.
				{after: 1149 * time.Millisecond, do: (*eh).tick},
				{after: time.Millisecond, do: (*eh).tick, want: []string{"2 iwant n=1"}},
			}
		}},
		{"publishing: the first message floods, later ones follow the tree", small, []linkID{1, 2}, func(h *eh) []step {
			return []step{
				{do: func(h *eh) []action { return h.e.Publish(h.mk("mine", 0), time.Now()) }, want: []string{"deliver", "1 message hops=0", "2 message hops=0"}},
			}
		}},
		{"a new link gets our history as a digest and asks for what it lacks", small, []linkID{1}, func(h *eh) []step {
			m1, m2 := h.mk("one", 0), h.mk("two", 0)
			missing := h.mk("missing", 0)
			return []step{
				{do: func(h *eh) []action { return h.recv(1, m1) }, want: []string{"deliver"}},
				{do: func(h *eh) []action { return h.recv(1, m2) }, want: []string{"deliver"}},
				{do: func(h *eh) []action { return h.e.StartLink(2, 0, time.Now()) }, want: []string{"2 hello", "2 digest n=2"}},
				{do: func(h *eh) []action {
					return h.frame(2, &pb.Frame{Body: &pb.Frame_Digest{Digest: &pb.Digest{Ids: shortsOf(m1, missing)}}})
				}, want: []string{"2 iwant n=1"}},
				// A caught-up message is announced, not pushed.
				{do: func(h *eh) []action { return h.recv(2, missing) }, want: []string{"deliver"}},
				{after: 500 * time.Millisecond, do: (*eh).tick, want: []string{"1 ihave n=1"}},
			}
		}},
		{"the hop limit: over it dropped, at it delivered but not relayed", Config{MaxHops: 3}, []linkID{1, 2}, func(h *eh) []step {
			return []step{
				{do: func(h *eh) []action { return h.recv(1, h.mk("over", 3)) }, want: []string{"drop hop_limit"}},
				{do: func(h *eh) []action { return h.recv(1, h.mk("at", 2)) }, want: []string{"deliver"}},
				{do: func(h *eh) []action { return h.recv(1, h.mk("under", 1)) }, want: []string{"deliver", "2 message hops=2"}},
			}
		}},
		{"expired and future messages are dropped", small, []linkID{1}, func(h *eh) []step {
			old, future := h.mk("old", 0), h.mk("future", 0)
			old.m.Time = uint64(time.Now().Add(-DefaultHistoryAge - time.Second).UnixNano())
			future.m.Time = uint64(time.Now().Add(2 * MaxFutureSkew).UnixNano())
			return []step{
				{do: func(h *eh) []action { return h.recv(1, old) }, want: []string{"drop expired"}},
				{do: func(h *eh) []action { return h.recv(1, future) }, want: []string{"drop expired"}},
			}
		}},
		{"metering: frames past the window's limit are a violation", Config{MeterMessages: 4}, []linkID{1}, func(h *eh) []step {
			prune := &pb.Frame{Body: &pb.Frame_Prune{Prune: &pb.Prune{}}}
			// The peer's Hello was the first frame of the window.
			return []step{
				{do: func(h *eh) []action { return h.frame(1, prune) }},
				{do: func(h *eh) []action { return h.frame(1, prune) }},
				{do: func(h *eh) []action { return h.frame(1, prune) }},
				{do: func(h *eh) []action { return h.frame(1, prune) }, want: []string{"drop metering", "violation 1"}},
				// A new window starts afresh.
				{after: DefaultMeterWindow, do: func(h *eh) []action { return h.frame(1, prune) }},
			}
		}},
		{"validator rejections past the limit are a violation", Config{RejectLimit: 1}, []linkID{1}, func(h *eh) []step {
			rej := func(in *incoming) func(h *eh) []action {
				return func(h *eh) []action {
					_, acts := h.e.Message(1, in, time.Now())
					return append(acts, h.e.Accept(1, in, verdictReject, time.Now())...)
				}
			}
			return []step{
				{do: rej(h.mk("bad 1", 0)), want: []string{"drop validation"}},
				{do: rej(h.mk("bad 2", 0)), want: []string{"drop validation", "violation 1"}},
			}
		}},
		{"fetches of unknown messages past the limit are a violation", Config{UnknownLimit: 2}, []linkID{1}, func(h *eh) []step {
			want := &pb.Frame{Body: &pb.Frame_Iwant{Iwant: &pb.IWant{Ids: shortsOf(h.mk("a", 0), h.mk("b", 0), h.mk("c", 0))}}}
			return []step{
				{do: func(h *eh) []action { return h.frame(1, want) }, want: []string{"drop unknown", "drop unknown", "drop unknown", "violation 1"}},
			}
		}},
		{"malformed frames are violations", small, []linkID{1}, func(h *eh) []step {
			return []step{
				{do: func(h *eh) []action {
					return h.frame(1, &pb.Frame{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: []byte{1, 2, 3}, Hops: []byte{1}}}})
				}, want: []string{"drop malformed", "violation 1"}},
				{do: func(h *eh) []action {
					return h.frame(1, &pb.Frame{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: make([]byte, 16), Hops: []byte{1}}}})
				}, want: []string{"drop malformed", "violation 1"}},
				{do: func(h *eh) []action { return h.frame(1, &pb.Frame{}) }, want: []string{"drop malformed", "violation 1"}},
				{do: func(h *eh) []action {
					return h.frame(1, &pb.Frame{Body: &pb.Frame_Hello{Hello: &pb.Hello{Topics: []string{""}}}})
				}, want: []string{"drop malformed", "violation 1"}},
			}
		}},
		{"a peer's topics and size limit are respected", small, []linkID{1, 2, 3}, func(h *eh) []step {
			return []step{
				{do: func(h *eh) []action {
					return h.frame(2, &pb.Frame{Body: &pb.Frame_Hello{Hello: &pb.Hello{Topics: []string{"other"}}}})
				}},
				{do: func(h *eh) []action {
					return h.frame(3, &pb.Frame{Body: &pb.Frame_Hello{Hello: &pb.Hello{MaxMessageSize: 2}}})
				}},
				{do: func(h *eh) []action { return h.recv(1, h.mk("hello", 0)) }, want: []string{"deliver"}},
				{do: func(h *eh) []action { return h.recv(1, h.mk("hi", 0)) }, want: []string{"deliver", "3 message hops=1"}},
			}
		}},
		{"no message is pushed to a peer before its Hello: it gets an announcement", small, []linkID{1}, func(h *eh) []step {
			return []step{
				{do: func(h *eh) []action { return h.e.StartLink(2, 0, time.Now()) }, want: []string{"2 hello"}},
				{do: func(h *eh) []action { return h.recv(1, h.mk("early", 0)) }, want: []string{"deliver"}},
				{after: 500 * time.Millisecond, do: (*eh).tick, want: []string{"2 ihave n=1"}},
			}
		}},
		{"a restricted node drops other topics", Config{Topics: []string{"only"}}, []linkID{1, 2}, func(h *eh) []step {
			return []step{
				{do: func(h *eh) []action { return h.recv(1, h.mk("t is not relayed", 0)) }, want: []string{"drop topic"}},
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newEH(t, c.cfg, c.links...)
				h.run(c.steps(h))
			})
		})
	}
}
