package relay

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/relay/pb"
)

// Protobuf field numbers of Frame.message and of Message's fields.
const (
	fieldFrameMessage = 2
	fieldFrameIHave   = 3
	fieldFrameIWant   = 5
	fieldFrameGraft   = 6
	fieldFramePrune   = 7
	fieldFrameDigest  = 8
	fieldTopic        = 1
	fieldOrigin       = 2
	fieldTime         = 3
	fieldData         = 4
	fieldHops         = 5
)

// encodeMessage encodes m as a Frame with hops = dist in two parts: a
// head (the frame and message fields, and the data's tag and length)
// and the data itself, so that the data goes out from where it is. Data
// comes last; protobuf decoders take fields in any order.
func encodeMessage(m *pb.Message, dist int) (head, body []byte) {
	data := m.GetData()
	var msg []byte
	if t := m.GetTopic(); t != "" {
		msg = protowire.AppendTag(msg, fieldTopic, protowire.BytesType)
		msg = protowire.AppendString(msg, t)
	}
	if o := m.GetOrigin(); len(o) > 0 {
		msg = protowire.AppendTag(msg, fieldOrigin, protowire.BytesType)
		msg = protowire.AppendBytes(msg, o)
	}
	if t := m.GetTime(); t != 0 {
		msg = protowire.AppendTag(msg, fieldTime, protowire.VarintType)
		msg = protowire.AppendVarint(msg, t)
	}
	if dist != 0 {
		msg = protowire.AppendTag(msg, fieldHops, protowire.VarintType)
		msg = protowire.AppendVarint(msg, uint64(uint32(dist)))
	}
	msg = protowire.AppendTag(msg, fieldData, protowire.BytesType)
	msg = protowire.AppendVarint(msg, uint64(len(data)))
	head = protowire.AppendTag(make([]byte, 0, len(msg)+16), fieldFrameMessage, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(len(msg)+len(data)))
	head = append(head, msg...)
	return head, data
}

// errDecode wraps frames that do not decode.
var errDecode = errors.New("undecodable relay frame")

// decodeFrame decodes a received frame as proto.Unmarshal does (unknown
// fields dropped). When owned (raw belongs to this frame alone: the
// channel allocated it), a message's data and id lists are slices of
// raw, not copies.
func decodeFrame(raw []byte, owned bool) (*pb.Frame, error) {
	if num, body, ok := soleField(raw); ok {
		if f, ok, err := parseFields(num, body, !owned); ok || err != nil {
			return f, err
		}
	}
	f := &pb.Frame{}
	if err := proto.Unmarshal(raw, f); err != nil {
		return nil, fmt.Errorf("%w: %w", errDecode, err)
	}
	return f, nil
}

// soleField returns the number and bytes of the Frame's body field when
// raw is exactly one length-delimited field, as every encoder writes a
// frame; ok is false otherwise (proto.Unmarshal then decodes it).
func soleField(raw []byte) (num protowire.Number, body []byte, ok bool) {
	num, typ, n := protowire.ConsumeTag(raw)
	if n < 0 || typ != protowire.BytesType {
		return 0, nil, false
	}
	v, m := protowire.ConsumeBytes(raw[n:])
	if m < 0 || n+m != len(raw) {
		return 0, nil, false
	}
	return num, v, true
}

// parseFields decodes the body of a frame's field num without
// protobuf's reflection: the message and the id lists, which are most
// of a relay's traffic. Its bytes fields are slices of body, or copies
// when copied is set (body is the channel's read buffer, reused for the
// next frame). ok is false for the other kinds.
func parseFields(num protowire.Number, body []byte, copied bool) (f *pb.Frame, ok bool, err error) {
	clone := func(b []byte) []byte {
		if !copied || b == nil {
			return b
		}
		return append(make([]byte, 0, len(b)), b...)
	}
	switch num {
	case fieldFrameMessage:
		m, err := parseMessage(body)
		if err != nil {
			return nil, true, err
		}
		m.Origin, m.Data = clone(m.Origin), clone(m.Data)
		return &pb.Frame{Body: &pb.Frame_Message{Message: m}}, true, nil
	case fieldFrameIHave, fieldFrameIWant, fieldFrameGraft, fieldFramePrune, fieldFrameDigest:
	default:
		return nil, false, nil
	}
	a, b, err := parseBytesPair(body)
	if err != nil {
		return nil, true, err
	}
	a, b = clone(a), clone(b)
	switch num {
	case fieldFrameIHave:
		f = &pb.Frame{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: a, Hops: b}}}
	case fieldFrameIWant:
		f = &pb.Frame{Body: &pb.Frame_Iwant{Iwant: &pb.IWant{Ids: a}}}
	case fieldFrameGraft:
		f = &pb.Frame{Body: &pb.Frame_Graft{Graft: &pb.Graft{Fetch: a, Join: b}}}
	case fieldFramePrune:
		f = &pb.Frame{Body: &pb.Frame_Prune{Prune: &pb.Prune{Ids: a}}}
	default:
		f = &pb.Frame{Body: &pb.Frame_Digest{Digest: &pb.Digest{Ids: a}}}
	}
	return f, true, nil
}

// parseBytesPair decodes a message whose known fields are bytes fields 1
// and 2 (IHave, IWant, Graft, Prune, Digest), as proto.Unmarshal does:
// the last occurrence of a field wins, unknown fields (and known ones of
// another wire type, which its messages do not have) are skipped. A
// field the message lacks (IWant's 2) is then skipped as unknown by
// the caller, which ignores it.
func parseBytesPair(b []byte) (f1, f2 []byte, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return nil, nil, fmt.Errorf("%w: bad tag", errDecode)
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ == protowire.BytesType {
			v, k := protowire.ConsumeBytes(b)
			if k < 0 {
				return nil, nil, fmt.Errorf("%w: truncated field %d", errDecode, num)
			}
			if num == 1 {
				f1 = v
			} else {
				f2 = v
			}
			b = b[k:]
			continue
		}
		k := protowire.ConsumeFieldValue(num, typ, b)
		if k < 0 {
			return nil, nil, fmt.Errorf("%w: truncated field %d", errDecode, num)
		}
		b = b[k:]
	}
	return f1, f2, nil
}

// parseMessage decodes a Message whose data (and origin) stay slices of
// b; unknown fields (and known ones of another wire type) are skipped,
// and a topic that is not UTF-8 is an error, as for proto.Unmarshal.
func parseMessage(b []byte) (*pb.Message, error) {
	m := &pb.Message{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return nil, fmt.Errorf("%w: bad tag", errDecode)
		}
		b = b[n:]
		want := protowire.Type(-1)
		switch num {
		case fieldTopic, fieldOrigin, fieldData:
			want = protowire.BytesType
		case fieldTime, fieldHops:
			want = protowire.VarintType
		}
		if typ != want {
			want = -1 // as proto.Unmarshal: a known field of another wire type is an unknown field
		}
		switch want {
		case protowire.BytesType:
			v, k := protowire.ConsumeBytes(b)
			if k < 0 {
				return nil, fmt.Errorf("%w: truncated field %d", errDecode, num)
			}
			switch num {
			case fieldTopic:
				if !utf8.Valid(v) {
					return nil, fmt.Errorf("%w: topic is not UTF-8", errDecode)
				}
				m.Topic = string(v)
			case fieldOrigin:
				m.Origin = v
			case fieldData:
				m.Data = v
			}
			b = b[k:]
		case protowire.VarintType:
			v, k := protowire.ConsumeVarint(b)
			if k < 0 {
				return nil, fmt.Errorf("%w: truncated field %d", errDecode, num)
			}
			if num == fieldTime {
				m.Time = v
			} else {
				m.Hops = uint32(v)
			}
			b = b[k:]
		default:
			k := protowire.ConsumeFieldValue(num, typ, b)
			if k < 0 {
				return nil, fmt.Errorf("%w: truncated field %d", errDecode, num)
			}
			b = b[k:]
		}
	}
	return m, nil
}
