package channel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime/metrics"
	"testing"
	"testing/iotest"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/protocols/pb"
)

// fuzzConn is the connection of a fuzzed channel: New only asks it for
// the remote peer.
type fuzzConn struct {
	network.Conn // nil: any other method panics
}

func (fuzzConn) RemotePeer() peer.ID { return "" }

// fuzzStream is the peer's incoming stream: reads come from r, and how
// ServeStream ended it is recorded.
type fuzzStream struct {
	network.Stream // nil: any other method panics
	r              io.Reader
	closed, reset  int
}

func (s *fuzzStream) Read(p []byte) (int, error)      { return s.r.Read(p) }
func (s *fuzzStream) SetReadDeadline(time.Time) error { return nil }
func (s *fuzzStream) Close() error                    { s.closed++; return nil }
func (s *fuzzStream) Reset() error                    { s.reset++; return nil }
func (s *fuzzStream) Scope() network.StreamScope      { return &network.NullScope{} }

// errHandler is what the fuzzed handler returns for the Ping of nonce
// 666: a local error that stops the channel without blaming the peer.
var errHandler = errors.New("handler refused the message")

// The fuzzed protocols: decoded with a filter, a handler and a small
// subscription; raw (relay-like, its cap above scratchMax so that both
// read paths run); and the version message, metered.
var (
	fuzzPing    = NewProtocol[*pb.PingMessage]("ping", "1.0.0", 64, Metering{})
	fuzzRaw     = NewSpec("raw", "1.0.0", &pb.Version{}, 2*scratchMax, Metering{})
	fuzzVersion = NewProtocol[*pb.Version]("version", "1.0.0", 4096, Metering{Threshold: 20, Expiry: time.Minute})
)

// FuzzChannelRecv feeds the bytes a peer can send on one incoming stream
// to ServeStream, the channel's receive path: length prefixes (huge,
// overflowing, non-minimal varints), payloads cut short, garbage after a
// valid frame, through the filters, the raw handler or the decoder, the
// handlers, subscriptions and metering. The first byte picks the protocol
// and the read pattern. ServeStream must not panic; it ends the stream
// with Close exactly when the input ends at a frame boundary and every
// frame was acceptable, and otherwise with Reset and a classified error
// (ErrViolation, reported to the Violation hook, or the handler's own
// error); no frame above its cap reaches a filter or handler; allocation
// stays linear in the input plus one cap.
func FuzzChannelRecv(f *testing.F) {
	frame := func(m proto.Message) []byte {
		var b bytes.Buffer
		if err := WriteFrame(&b, m, 1<<20); err != nil {
			f.Fatal(err)
		}
		return b.Bytes()
	}
	ping := frame(&pb.PingMessage{Body: &pb.PingMessage_Ping{Ping: &pb.Ping{Nonce: 9}}})
	ver := frame(&pb.Version{AppName: "dnode", AppVersion: "0.1.0", Protocols: []string{"/a"}})
	big := binary.AppendUvarint(nil, scratchMax+100)
	big = append(big, bytes.Repeat([]byte{0x0a, 0x01, 'x'}, (scratchMax+100)/3)...)
	big = append(big, bytes.Repeat([]byte{0}, scratchMax+100-len(big)+2)...)
	f.Add(append([]byte{0}, ping...))
	f.Add(append(append([]byte{0}, ping...), 0xff, 0x13)) // garbage after a valid frame
	f.Add(append([]byte{0}, frame(&pb.PingMessage{Body: &pb.PingMessage_Ping{Ping: &pb.Ping{Nonce: 666}}})...))
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}) // overflowing varint
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})       // huge length
	f.Add([]byte{4, 0x80, 0x00})                                                 // non-minimal
	f.Add(append([]byte{1}, big...))
	f.Add(append([]byte{5}, big[:len(big)/2]...)) // truncated, one byte per read
	f.Add(append(append([]byte{2}, ver...), ver...))
	f.Add(append([]byte{2}, bytes.Repeat(ver, 21)...)) // over the metering threshold
	f.Add(append([]byte{0}, bytes.Repeat([]byte{0}, 100)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		mode, data := in[0], in[1:]
		var violations int
		var violationErr error
		c, ctl := New(Config{Conn: fuzzConn{}, Network: "fuzz", Session: Inbound, FrameTimeout: time.Second,
			Violation: func(_ *Channel, err error) { violations++; violationErr = err }})
		// Every filter and handler checks the frame's cap; the filter
		// drops pings whose encoding starts with a zero byte.
		capped := func(spec *Spec, raw []byte) {
			if len(raw) > spec.MaxBytes() {
				t.Fatalf("%s: a frame of %d bytes, cap %d, reached a filter or handler", spec.Name(), len(raw), spec.MaxBytes())
			}
		}
		fuzzPing.Filter(c, func(raw []byte) bool {
			capped(fuzzPing.Spec(), raw)
			return len(raw) == 0 || raw[0] != 0
		})
		fuzzPing.Handle(c, func(m *pb.PingMessage) error {
			if m.GetPing().GetNonce() == 666 {
				return errHandler
			}
			return nil
		})
		sub := fuzzPing.Subscribe(c, 2)
		c.HandleRaw(fuzzRaw, func(raw []byte, owned bool) error {
			capped(fuzzRaw, raw)
			if owned != (len(raw) > scratchMax) {
				t.Fatalf("raw frame of %d bytes: owned = %v", len(raw), owned)
			}
			return nil
		})
		fuzzVersion.Handle(c, func(m *pb.Version) error {
			if proto.Size(m) > fuzzVersion.Spec().MaxBytes() {
				t.Fatalf("decoded a version of %d bytes", proto.Size(m))
			}
			return nil
		})
		spec := []*Spec{fuzzPing.Spec(), fuzzRaw, fuzzVersion.Spec()}[int(mode&3)%3]
		var r io.Reader = bytes.NewReader(data)
		if mode&4 != 0 {
			r = iotest.OneByteReader(r) // frames split across reads: deadlines set and cleared
		}
		s := &fuzzStream{r: r}
		ctl.Start()

		before := heapAllocs()
		ctl.ServeStream(spec, s)
		allocated := heapAllocs() - before
		if limit := 1<<20 + 256*uint64(len(data)) + uint64(spec.MaxBytes()); allocated > limit {
			t.Fatalf("%d bytes of input allocated %d bytes, limit %d", len(data), allocated, limit)
		}

		err := c.Err()
		switch {
		case s.closed > 1 || (s.closed == 1) == (s.reset > 0):
			// Stop resets the channel's streams too: a reset may repeat.
			t.Fatalf("stream closed %d and reset %d times", s.closed, s.reset)
		case s.closed == 1:
			if err != nil {
				t.Fatalf("stream closed cleanly but the channel stopped: %v", err)
			}
			if !wholeFrames(data) {
				t.Fatalf("stream closed cleanly on input that does not end at a frame boundary: %x", data)
			}
		case errors.Is(err, ErrViolation):
			if violations != 1 || !errors.Is(violationErr, ErrViolation) {
				t.Fatalf("violation %v reported %d times (%v)", err, violations, violationErr)
			}
		case errors.Is(err, errHandler):
			if violations != 0 {
				t.Fatalf("a local handler error was reported as a violation: %v", violationErr)
			}
		default:
			t.Fatalf("stream reset with an unclassified error: %v", err)
		}
		c.Stop(nil)
		<-c.Done()
		if sub.sub.n > 2 {
			t.Fatalf("subscription holds %d messages, capacity 2", sub.sub.n)
		}
	})
}

// wholeFrames reports whether data is a sequence of complete frames with
// minimal length prefixes.
func wholeFrames(data []byte) bool {
	for len(data) > 0 {
		n, k := binary.Uvarint(data)
		if k <= 0 || k != uvarintLen(n) || n > uint64(len(data)-k) {
			return false
		}
		data = data[k+int(n):]
	}
	return true
}

// heapAllocs returns the bytes allocated on the heap so far by the
// process.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
