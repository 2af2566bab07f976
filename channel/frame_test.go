package channel

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/protocols/pb"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := &pb.Version{AppName: "dnode", AppVersion: "0.1.0", Timestamp: 7, Protocols: []string{"/a", "/b"}}
	if err := WriteFrame(&buf, in, 1024); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(&buf, in, 10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("write above cap: %v", err)
	}
	out := &pb.Version{}
	if err := ReadFrame(&buf, out, 1024); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, out) {
		t.Errorf("got %v, want %v", out, in)
	}
}

func TestReadFrameViolations(t *testing.T) {
	cases := map[string][]byte{
		"oversized":   {0x80, 0x08}, // 1024 > cap 100
		"truncated":   {0x05, 0x01, 0x02},
		"non-minimal": {0x80, 0x00},
		"overflow":    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
		"undecodable": {0x03, 0xff, 0xff, 0xff},
	}
	for name, b := range cases {
		err := ReadFrame(bytes.NewReader(b), &pb.Version{}, 100)
		if !errors.Is(err, ErrViolation) {
			t.Errorf("%s: err = %v, want a violation", name, err)
		}
	}
	// A clean end of stream before any byte is not a violation.
	if err := ReadFrame(bytes.NewReader(nil), &pb.Version{}, 100); errors.Is(err, ErrViolation) || err == nil {
		t.Errorf("empty input: %v", err)
	}
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteFrame(&buf, &pb.PingMessage{Body: &pb.PingMessage_Ping{Ping: &pb.Ping{Nonce: 9}}}, 32)
	f.Add(buf.Bytes())
	f.Add([]byte{0x80, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &pb.PingMessage{}
		if err := ReadFrame(bytes.NewReader(b), m, 32); err == nil && proto.Size(m) > 32 {
			t.Fatalf("decoded a message above the cap")
		}
	})
}

// A full subscription drops its oldest message, counts it, and delivers
// the rest in order; after the channel stops, queued messages are still
// delivered before ErrStopped.
func TestSubscriptionOverflowDropsOldest(t *testing.T) {
	ch := &Channel{stopping: make(chan struct{}), protos: map[*Spec]*protoState{}}
	p := NewProtocol[*pb.Ping]("p", "1.0.0", 32, Metering{})
	sub := p.Subscribe(ch, 2)
	for i := range uint64(3) {
		ch.dispatch(ch.protos[p.Spec()], &pb.Ping{Nonce: i})
	}
	if sub.Dropped() != 1 || ch.dropped.Load() != 1 {
		t.Fatalf("dropped = %d (channel %d), want 1", sub.Dropped(), ch.dropped.Load())
	}
	close(ch.stopping)
	ctx := context.Background()
	for _, want := range []uint64{1, 2} {
		m, err := sub.Receive(ctx)
		if err != nil || m.GetNonce() != want {
			t.Fatalf("receive = %v, %v; want nonce %d", m, err, want)
		}
	}
	if _, err := sub.Receive(ctx); !errors.Is(err, ErrStopped) {
		t.Fatalf("after stop: %v", err)
	}
}

// Receive metering: more messages inside the window than the thresholds
// allow is a violation; the same count spread over time is not.
func TestMeteringLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := &Channel{stopping: make(chan struct{}), protos: map[*Spec]*protoState{}}
		p := NewProtocol[*pb.Ping]("p", "1.0.0", 32, Metering{Threshold: 4, Expiry: 10 * time.Second})
		ch.Attach(p.Spec())
		ps := ch.protos[p.Spec()]
		for i := range 4 {
			if err := ch.dispatch(ps, &pb.Ping{}); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		time.Sleep(10 * time.Second)
		for i := range 4 {
			if err := ch.dispatch(ps, &pb.Ping{}); err != nil {
				t.Fatalf("after expiry, message %d: %v", i, err)
			}
		}
		if err := ch.dispatch(ps, &pb.Ping{}); !errors.Is(err, ErrViolation) {
			t.Fatalf("fifth message in the window: %v, want a violation", err)
		}
	})
}
