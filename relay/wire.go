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

// decodeFrame decodes a received frame. When the frame is a Message and
// owned (raw belongs to this frame alone: the channel allocated it), the
// message's data is a slice of raw, not a copy; otherwise it decodes as
// proto.Unmarshal does.
func decodeFrame(raw []byte, owned bool) (*pb.Frame, error) {
	if owned {
		if body, ok := lastMessageField(raw); ok {
			m, err := parseMessage(body)
			if err != nil {
				return nil, err
			}
			return &pb.Frame{Body: &pb.Frame_Message{Message: m}}, nil
		}
	}
	f := &pb.Frame{}
	if err := proto.Unmarshal(raw, f); err != nil {
		return nil, fmt.Errorf("%w: %v", errDecode, err)
	}
	return f, nil
}

// lastMessageField returns the bytes of the Frame's message field when
// raw is exactly that one field, as every encoder writes a Message
// frame; ok is false otherwise (proto.Unmarshal then decodes it).
func lastMessageField(raw []byte) (body []byte, ok bool) {
	num, typ, n := protowire.ConsumeTag(raw)
	if n < 0 || num != fieldFrameMessage || typ != protowire.BytesType {
		return nil, false
	}
	v, m := protowire.ConsumeBytes(raw[n:])
	if m < 0 || n+m != len(raw) {
		return nil, false
	}
	return v, true
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
