package dnode

import (
	"time"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/sessions"
)

// observer turns channel and session measurements into dnet events
// (send, recv) and hands them to the user's observer (metrics), if any.
type observer struct {
	bus  *events.Bus
	next sessions.Observer // may be nil
}

var _ sessions.Observer = (*observer)(nil)

func (o *observer) Message(ch *channel.Channel, spec *channel.Spec, out bool, size int) {
	if o.bus.Messages() {
		kind := events.Recv
		if out {
			kind = events.Send
		}
		o.bus.Publish(events.Event{Kind: kind, Cmd: spec.Name(), ChannelID: ch.ID(), Addr: ch.RemoteAddr().String(), Count: size})
	}
	if o.next != nil {
		o.next.Message(ch, spec, out, size)
	}
}

func (o *observer) Dropped(ch *channel.Channel, spec *channel.Spec, reason string) {
	if o.next != nil {
		o.next.Dropped(ch, spec, reason)
	}
}

func (o *observer) Handshake(kind channel.Session, d time.Duration, err error) {
	if o.next != nil {
		o.next.Handshake(kind, d, err)
	}
}

func (o *observer) Banned(reason string) {
	if o.next != nil {
		o.next.Banned(reason)
	}
}
