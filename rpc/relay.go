package rpc

import (
	"context"
	"encoding/base64"
	"errors"

	"github.com/dnode-p2p/dnode/relay"
)

// Published is the result of relay.publish.
type Published struct {
	ID string `json:"id"` // the message id, hex
}

// RelayMessage is one message as relay.subscribe notifies it.
type RelayMessage struct {
	ID           string `json:"id"`            // hex
	Topic        string `json:"topic"`         // its topic
	Origin       string `json:"origin"`        // the publisher's peer ID
	Data         string `json:"data"`          // base64 (standard, padded)
	Hops         int    `json:"hops"`          // links crossed to reach this node (0: published here)
	Time         int64  `json:"time"`          // the origin's clock, unix nanoseconds
	ReceivedFrom string `json:"received_from"` // the peer it came from (this node's ID for its own)
}

// relaySubscriptionBuffer is a relay.subscribe feed's queue length.
const relaySubscriptionBuffer = 1024

// relayMethods adds the relay.* methods for r to m.
func relayMethods(m map[string]*method, r *relay.Relay) {
	m["relay.publish"] = &method{params: "[topic, data]", names: []string{"topic", "data"}, minParams: 2, maxParams: 2,
		call: func(ctx context.Context, p params) (any, error) {
			topic, err := p.string(0, "topic")
			if err != nil {
				return nil, err
			}
			b64, err := p.string(1, "data")
			if err != nil {
				return nil, err
			}
			data, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return nil, p.invalid("data is not base64: %v", err)
			}
			id, err := r.Publish(ctx, topic, data)
			if err != nil {
				if errors.Is(err, relay.ErrTopic) || errors.Is(err, relay.ErrEmpty) || errors.Is(err, relay.ErrTooLarge) {
					return nil, p.invalid("%v", err)
				}
				return nil, nodeError(err)
			}
			return Published{ID: id.String()}, nil
		}}
	m["relay.get_stats"] = &method{params: "[]", call: func(context.Context, params) (any, error) {
		return r.Stats(), nil
	}}
	m["relay.subscribe"] = &method{params: "[topic]", names: []string{"topic"}, minParams: 1, maxParams: 1,
		sub: func(p params) (pump, func(), error) {
			topic, err := p.string(0, "topic")
			if err != nil {
				return nil, nil, err
			}
			t, err := r.Join(topic)
			if err != nil {
				return nil, nil, p.invalid("%v", err)
			}
			sub, err := t.Subscribe(relay.WithBufferSize(relaySubscriptionBuffer))
			if err != nil {
				return nil, nil, nodeError(err)
			}
			return func(ctx context.Context, send func(any) bool) {
				for {
					msg, err := sub.Next(ctx)
					if err != nil || !send(relayMessage(msg)) {
						return
					}
				}
			}, sub.Cancel, nil
		}}
}

func relayMessage(m *relay.Message) RelayMessage {
	return RelayMessage{
		ID: m.ID.String(), Topic: m.Topic, Origin: m.Origin.String(),
		Data: base64.StdEncoding.EncodeToString(m.Data), Hops: m.Hops,
		Time: m.Time.UnixNano(), ReceivedFrom: m.ReceivedFrom.String(),
	}
}
