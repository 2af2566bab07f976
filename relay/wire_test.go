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
	t.Parallel()
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
	for _, fr := range []*pb.Frame{
		{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: []byte("12345678"), Hops: []byte{1}}}},
		{Body: &pb.Frame_Iwant{Iwant: &pb.IWant{Ids: []byte("12345678")}}},
		{Body: &pb.Frame_Graft{Graft: &pb.Graft{Fetch: []byte("12345678"), Join: []byte("abcdefgh")}}},
		{Body: &pb.Frame_Prune{Prune: &pb.Prune{Ids: []byte("12345678")}}},
		{Body: &pb.Frame_Digest{Digest: &pb.Digest{Ids: []byte("12345678")}}},
		{Body: &pb.Frame_Hello{Hello: &pb.Hello{Topics: []string{"t"}, MaxMessageSize: 9}}},
	} {
		raw, _ := proto.Marshal(fr)
		f.Add(raw)
		f.Add(append(raw, 0x0a, 0x01)) // a second field: not a sole field
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want pb.Frame
		werr := proto.Unmarshal(raw, &want)
		for _, owned := range []bool{true, false} {
			got, gerr := decodeFrame(raw, owned)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("owned %v: proto.Unmarshal: %v; decodeFrame: %v", owned, werr, gerr)
			}
			if werr == nil && !sameFrame(got, &want) {
				t.Fatalf("owned %v: decoded %v, want %v", owned, got, &want)
			}
		}
	})
}

// sameFrame compares the known fields of two frames.
func sameFrame(a, b *pb.Frame) bool {
	eq := bytes.Equal
	switch {
	case b.GetMessage() != nil:
		return a.GetMessage() != nil && sameFields(a.GetMessage(), b.GetMessage())
	case b.GetIhave() != nil:
		return a.GetIhave() != nil && eq(a.GetIhave().GetIds(), b.GetIhave().GetIds()) && eq(a.GetIhave().GetHops(), b.GetIhave().GetHops())
	case b.GetIwant() != nil:
		return a.GetIwant() != nil && eq(a.GetIwant().GetIds(), b.GetIwant().GetIds())
	case b.GetGraft() != nil:
		return a.GetGraft() != nil && eq(a.GetGraft().GetFetch(), b.GetGraft().GetFetch()) && eq(a.GetGraft().GetJoin(), b.GetGraft().GetJoin())
	case b.GetPrune() != nil:
		return a.GetPrune() != nil && eq(a.GetPrune().GetIds(), b.GetPrune().GetIds())
	case b.GetDigest() != nil:
		return a.GetDigest() != nil && eq(a.GetDigest().GetIds(), b.GetDigest().GetIds())
	}
	return proto.Equal(a, b)
}

// sameFields compares messages' known fields (the owned decoder drops
// unknown ones, which nothing reads).
func sameFields(a, b *pb.Message) bool {
	return a.GetTopic() == b.GetTopic() && bytes.Equal(a.GetOrigin(), b.GetOrigin()) && a.GetTime() == b.GetTime() &&
		bytes.Equal(a.GetData(), b.GetData()) && a.GetHops() == b.GetHops()
}
