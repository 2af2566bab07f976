package relay

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/relay/pb"
)

// FuzzEngine feeds arbitrary frames, as a peer could send them, to an
// engine with three links, the way the Relay does (messages checked and
// given an id first), advancing time between frames. It must never panic
// and its state must stay within its bounds.
func FuzzEngine(f *testing.F) {
	k, _, _ := crypto.GenerateEd25519Key(nil)
	origin, _ := peer.IDFromPrivateKey(k)
	seed := func(fr *pb.Frame) []byte {
		b, _ := proto.Marshal(fr)
		return b
	}
	short := appendShort(nil, 0x0102030405060708)
	f.Add(uint8(1), uint8(10), seed(&pb.Frame{Body: &pb.Frame_Message{Message: &pb.Message{Topic: "t", Origin: []byte(origin), Time: 1, Data: []byte("x")}}}))
	f.Add(uint8(2), uint8(200), seed(&pb.Frame{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: short, Hops: []byte{3}}}}))
	f.Add(uint8(3), uint8(0), seed(&pb.Frame{Body: &pb.Frame_Offer{Offer: &pb.Offer{Ids: short, Hops: []byte{1}, Sizes: []uint64{1 << 30}}}}))
	f.Add(uint8(1), uint8(5), seed(&pb.Frame{Body: &pb.Frame_Graft{Graft: &pb.Graft{Fetch: short, Join: short}}}))
	f.Add(uint8(2), uint8(5), seed(&pb.Frame{Body: &pb.Frame_Digest{Digest: &pb.Digest{Ids: append(short, short...)}}}))
	f.Add(uint8(3), uint8(5), seed(&pb.Frame{Body: &pb.Frame_Hello{Hello: &pb.Hello{Topics: []string{"t"}, MaxMessageSize: 3}}}))
	f.Add(uint8(1), uint8(5), []byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, link, advance uint8, raw []byte) {
		cfg := Config{EagerMaxSize: 8, MeterMessages: 50, UnknownLimit: 5}.withDefaults()
		r := &Relay{cfg: cfg}
		e := newEngine(cfg)
		now := time.Unix(1e9, 0)
		for _, l := range []linkID{1, 2, 3} {
			e.StartLink(l, time.Millisecond, now)
		}
		// The same frame arrives three times, on different links, with
		// time passing: duplicates, prunes, fetch timeouts.
		for i := range 3 {
			l := linkID(1 + (int(link)+i)%3)
			var fr pb.Frame
			if proto.Unmarshal(raw, &fr) != nil {
				return // the channel refuses it before the relay
			}
			now = now.Add(time.Duration(advance) * time.Millisecond)
			if m := fr.GetMessage(); m != nil {
				if _, err := r.check(m); err != nil {
					continue
				}
				in := &incoming{m: m, id: MessageID(m.GetTopic(), m.GetOrigin(), m.GetTime(), m.GetData()), size: len(raw)}
				if validate, _ := e.Message(l, in, now); validate {
					e.Accept(l, in, verdict(i%3), now)
				}
			} else {
				e.Frame(l, &fr, len(raw), now)
			}
			e.Tick(now.Add(2 * time.Second))
		}
		if len(e.fetches) > maxFetches || e.store.histCount > cfg.HistoryCount || e.store.histBytes > cfg.HistoryBytes {
			t.Fatalf("bounds broken: %d fetches, history %d/%d bytes", len(e.fetches), e.store.histCount, e.store.histBytes)
		}
		_ = e.snapshot()
	})
}
