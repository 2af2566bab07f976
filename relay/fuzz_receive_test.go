package relay

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/relay/pb"
)

// fuzzConn is the connection of the fuzzed channel: channel.New only asks
// it for the remote peer.
type fuzzConn struct {
	network.Conn // nil: any other method panics
}

func (fuzzConn) RemotePeer() peer.ID { return "" }

// fuzzEpoch is the time of FuzzReceive's seed messages: message times
// within an hour of it are moved to the present, so that seeds in the
// corpus stay within the relay's history age.
const fuzzEpoch = uint64(1_700_000_000 * time.Second)

// FuzzReceive runs frames as a peer sends them through the Relay's
// receive path, as its raw handler does: decodeFrame (owned or not), the
// message checks, the engine, the topic's validator and the delivery to
// the topic's handlers. The input is a sequence of uvarint-prefixed
// frames; each arrives on one of three links. Topic "t" has a validator
// whose verdict is the data's first byte mod 3 (accept, ignore, reject);
// topic "u" has none. Receive must not panic; its errors are violations;
// a handler sees only accepted messages of a joined topic, each once,
// exactly as sent; the engine stays within its bounds.
func FuzzReceive(f *testing.F) {
	k, _, _ := crypto.GenerateEd25519Key(nil)
	origin, _ := peer.IDFromPrivateKey(k)
	msg := func(topic string, tm uint64, data string) *pb.Frame {
		return &pb.Frame{Body: &pb.Frame_Message{Message: &pb.Message{Topic: topic, Origin: []byte(origin), Time: tm, Data: []byte(data)}}}
	}
	frames := func(fs ...*pb.Frame) []byte {
		var out []byte
		for _, fr := range fs {
			b, _ := proto.Marshal(fr)
			out = append(binary.AppendUvarint(out, uint64(len(b))), b...)
		}
		return out
	}
	now := fuzzEpoch
	f.Add(frames(msg("t", now, "\x00accepted"), msg("t", now, "\x00accepted")))
	f.Add(frames(msg("t", now, "\x01ignored"), msg("t", now+1, "\x02rejected"), msg("u", now, "no validator")))
	f.Add(frames(msg("t", now+1, "\x02a"), msg("t", now+2, "\x02b"), msg("t", now+3, "\x02c"), msg("t", now+4, "\x02d"),
		msg("t", now+5, "\x02e"), msg("t", now+6, "\x02f"))) // past RejectLimit
	f.Add(frames(msg("v", now, "not joined"), msg("t", 1, "\x00too old"), msg("", now, "x"), msg("t", now, "")))
	f.Add(frames(msg("t", now, "\x00larger than the eager size, offered not pushed")))
	f.Add(frames(&pb.Frame{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: appendShort(nil, 7), Hops: []byte{1}}}}))
	f.Add(frames(&pb.Frame{Body: &pb.Frame_Hello{Hello: &pb.Hello{Topics: []string{"t"}, MaxMessageSize: 3}}}))
	f.Add([]byte{0x03, 0x12, 0x01, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Config{EagerMaxSize: 16, MeterMessages: 50, UnknownLimit: 5}.withDefaults()
		r := &Relay{
			cfg:        cfg,
			log:        slog.New(slog.DiscardHandler),
			events:     events.NewBus(),
			eng:        newEngine(cfg),
			chans:      make(map[linkID]*channel.Channel), // none: sends and bans are not carried out
			topics:     make(map[string]*Topic),
			validators: make(map[string]Validator),
			closed:     true, // no timer
		}
		r.validators["t"] = func(_ context.Context, _ peer.ID, m *Message) ValidationResult {
			return ValidationResult(m.Data[0] % 3)
		}
		seen := make(map[ID]bool)
		for _, name := range []string{"t", "u"} {
			r.topics[name] = &Topic{r: r, name: name, subs: make(map[*Subscription]struct{}), handlers: []Handler{func(m *Message) {
				switch {
				case m.Topic != name:
					t.Fatalf("handler of %s got a message of %q", name, m.Topic)
				case name == "t" && m.Data[0]%3 != 0:
					t.Fatalf("delivered a message its validator did not accept: %q", m.Data)
				case seen[m.ID]:
					t.Fatalf("message %s delivered twice", m.ID)
				case m.ID != MessageID(m.Topic, []byte(m.Origin), uint64(m.Time.UnixNano()), m.Data):
					t.Fatalf("message %s delivered with other fields: %+v", m.ID, m)
				case m.Local || m.Hops < 1:
					t.Fatalf("received message delivered as Local %v, hops %d", m.Local, m.Hops)
				}
				seen[m.ID] = true
			}}}
		}
		ch, _ := channel.New(channel.Config{Conn: fuzzConn{}, Network: "fuzz", Session: channel.Inbound})
		defer ch.Stop(nil)
		start := time.Now()
		for _, l := range []linkID{1, 2, 3} {
			r.eng.AddLink(l)
			r.eng.StartLink(l, time.Millisecond, start)
		}
		for i := 0; len(data) > 0; i++ {
			n, k := binary.Uvarint(data)
			if k <= 0 || n > uint64(len(data)-k) {
				return
			}
			raw := data[k : k+int(n)]
			data = data[k+int(n):]
			owned := i%2 == 1
			if owned {
				raw = append([]byte(nil), raw...)
			}
			fr, err := decodeFrame(raw, owned)
			if err != nil {
				continue // the raw handler reports it as a violation
			}
			if m := fr.GetMessage(); m != nil && m.Time >= fuzzEpoch-uint64(time.Hour) && m.Time <= fuzzEpoch+uint64(time.Hour) {
				m.Time += uint64(start.UnixNano()) - fuzzEpoch // seeds stay recent
			}
			if err := r.receive(ch, linkID(1+i%3), fr, len(raw)); err != nil && !errors.Is(err, channel.ErrViolation) {
				t.Fatalf("frame %d: an error that is not a violation: %v", i, err)
			}
			e := r.eng
			if len(e.fetches) > maxFetches || e.store.histCount > cfg.HistoryCount || e.store.histBytes > cfg.HistoryBytes {
				t.Fatalf("bounds broken: %d fetches, history %d/%d bytes", len(e.fetches), e.store.histCount, e.store.histBytes)
			}
		}
	})
}
