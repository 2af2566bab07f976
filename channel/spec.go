package channel

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Metering is DarkFi's receive-side rate accounting for one protocol.
// Each received message scores 1 and is forgotten after Expiry. When the
// channel's total score over every metered protocol exceeds the sum of
// their thresholds, the peer is in violation. A zero Threshold disables
// metering for the protocol.
type Metering struct {
	Threshold int
	Expiry    time.Duration
}

// Spec describes one dnode stream protocol: its name and version (the
// protocol ID is /dnode/<network>/<name>/<version>), the single protobuf
// message type its streams carry, and the largest encoded message allowed.
// A Spec is immutable; share it between channels and networks.
type Spec struct {
	name     string
	version  string
	maxBytes int
	metering Metering
	msgType  protoreflect.MessageType
	lastID   atomic.Pointer[specID] // cache of ID
}

// NewSpec returns the Spec of protocol name/version carrying messages of
// the same type as example, at most maxBytes long once encoded.
func NewSpec(name, version string, example proto.Message, maxBytes int, m Metering) *Spec {
	if name == "" || version == "" || maxBytes <= 0 {
		panic(fmt.Sprintf("channel.NewSpec(%q, %q, %d): bad arguments", name, version, maxBytes))
	}
	return &Spec{
		name:     name,
		version:  version,
		maxBytes: maxBytes,
		metering: m,
		msgType:  example.ProtoReflect().Type(),
	}
}

// Name returns the protocol's name, e.g. "ping".
func (s *Spec) Name() string { return s.name }

// Version returns the protocol's semver, e.g. "1.0.0".
func (s *Spec) Version() string { return s.version }

// MaxBytes returns the largest encoded message the protocol allows.
func (s *Spec) MaxBytes() int { return s.maxBytes }

// Metering returns the protocol's receive metering.
func (s *Spec) Metering() Metering { return s.metering }

// ID returns the protocol ID on network: /dnode/<network>/<name>/<version>.
func (s *Spec) ID(network string) protocol.ID {
	// A node runs one network: the last ID is kept, so the send path
	// (PeerRuns) does not build the string for every message.
	if c := s.lastID.Load(); c != nil && c.network == network {
		return c.id
	}
	id := protocol.ID("/dnode/" + network + "/" + s.name + "/" + s.version)
	s.lastID.Store(&specID{network: network, id: id})
	return id
}

// specID is a Spec's protocol ID on one network.
type specID struct {
	network string
	id      protocol.ID
}

func (s *Spec) newMessage() proto.Message { return s.msgType.New().Interface() }

// Encode marshals msg after checking its type and size, for SendEncoded.
func (s *Spec) Encode(msg proto.Message) ([]byte, error) {
	if msg.ProtoReflect().Type() != s.msgType {
		return nil, fmt.Errorf("%w: %s carries %s, not %s", ErrWrongType, s.name,
			s.msgType.Descriptor().FullName(), msg.ProtoReflect().Descriptor().FullName())
	}
	data, err := proto.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", s.name, err)
	}
	if len(data) > s.maxBytes {
		return nil, fmt.Errorf("%w: %s message of %d bytes, cap %d", ErrTooLarge, s.name, len(data), s.maxBytes)
	}
	return data, nil
}

// Protocol is a typed handle on a Spec whose messages are of type M. Use
// it to send and subscribe without type assertions.
type Protocol[M proto.Message] struct {
	spec *Spec
}

// NewProtocol returns a Protocol for messages of type M.
func NewProtocol[M proto.Message](name, version string, maxBytes int, m Metering) *Protocol[M] {
	var zero M
	return &Protocol[M]{spec: NewSpec(name, version, zero, maxBytes, m)}
}

// Spec returns the protocol's Spec.
func (p *Protocol[M]) Spec() *Spec { return p.spec }

// Send queues msg on ch; see Channel.Send.
func (p *Protocol[M]) Send(ch *Channel, msg M) error { return ch.Send(p.spec, msg) }

// Subscribe attaches the protocol to ch and returns a subscription with a
// queue of capacity messages; see Channel.Subscribe.
func (p *Protocol[M]) Subscribe(ch *Channel, capacity int) *Subscription[M] {
	return &Subscription[M]{sub: ch.subscribe(p.spec, capacity)}
}

// Filter calls f with the encoded bytes of every message of the protocol
// received on ch, before decoding; see Channel.Filter.
func (p *Protocol[M]) Filter(ch *Channel, f Filter) { ch.Filter(p.spec, f) }

// Handle calls h for every message of the protocol received on ch; see
// Channel.Handle.
func (p *Protocol[M]) Handle(ch *Channel, h func(M) error) {
	ch.Handle(p.spec, func(m proto.Message) error { return h(m.(M)) })
}
