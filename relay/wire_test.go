package relay

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/relay/pb"
)

// encodeMessage's two parts decode, with proto.Unmarshal, to the
// message with the new hop count; decodeFrame gives the same as
// proto.Unmarshal, owned or not.
func TestWireRoundTrip(t *testing.T) {
	for _, m := range []*pb.Message{
		{Topic: "t", Origin: []byte("origin"), Time: 12345, Data: bytes.Repeat([]byte{7}, 100000), Hops: 3},
		{Topic: "x", Data: []byte("d")},
	} {
		for _, dist := range []int{0, 1, 300} {
			head, body := encodeMessage(m, dist)
			raw := append(append([]byte(nil), head...), body...)
			var f pb.Frame
			if err := proto.Unmarshal(raw, &f); err != nil {
				t.Fatal(err)
			}
			want := proto.Clone(m).(*pb.Message)
			want.Hops = uint32(dist)
			if !proto.Equal(f.GetMessage(), want) {
				t.Errorf("dist %d: decoded %v", dist, f.GetMessage())
			}
			for _, owned := range []bool{false, true} {
				g, err := decodeFrame(raw, owned)
				if err != nil || !proto.Equal(g, &f) {
					t.Errorf("decodeFrame(owned=%v) = %v, %v", owned, g, err)
				}
			}
		}
	}
}

// FuzzDecodeFrame: on any input, the owned decoder accepts exactly what
// proto.Unmarshal accepts and decodes the same known fields.
func FuzzDecodeFrame(f *testing.F) {
	head, body := encodeMessage(&pb.Message{Topic: "t", Origin: []byte("o"), Time: 1, Data: []byte("data")}, 2)
	f.Add(append(head, body...))
	f.Add([]byte{0x12, 0x03, 0x0a, 0x01, 0xff})
	f.Add([]byte{0x12, 0x00, 0x1a, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want pb.Frame
		werr := proto.Unmarshal(raw, &want)
		got, gerr := decodeFrame(raw, true)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("proto.Unmarshal: %v; decodeFrame: %v", werr, gerr)
		}
		if werr == nil && want.GetMessage() != nil && !sameFields(got.GetMessage(), want.GetMessage()) {
			t.Fatalf("decoded %v, want %v", got, &want)
		}
	})
}

// sameFields compares messages' known fields (the owned decoder drops
// unknown ones, which nothing reads).
func sameFields(a, b *pb.Message) bool {
	return a.GetTopic() == b.GetTopic() && bytes.Equal(a.GetOrigin(), b.GetOrigin()) && a.GetTime() == b.GetTime() &&
		bytes.Equal(a.GetData(), b.GetData()) && a.GetHops() == b.GetHops()
}
