package sessions

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	dhost "github.com/dnode-p2p/dnode/host"
)

// ErrEvicted is the stop reason (channel.StopEvicted) of an inbound
// channel that inbound eviction stopped to give its slot to a newcomer.
var ErrEvicted = channel.Because(channel.StopEvicted, dhost.ErrEvicted)

var _ dhost.EvictionSource = (*Manager)(nil)

// InboundCandidates implements host.EvictionSource: one candidate per
// started inbound channel. A configured seed and a peer with a handshake
// in progress are Protected; manual peers, channels of every other kind
// and inbound channels an outbound slot holds are protected through the
// connection manager (Protect).
func (m *Manager) InboundCandidates() []dhost.Candidate {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopping {
		return nil
	}
	var out []dhost.Candidate
	for p, ch := range m.channels {
		if ch.Session() != channel.Inbound {
			continue
		}
		out = append(out, dhost.Candidate{
			Peer:      p,
			Addr:      ch.RemoteAddr(),
			RTT:       ch.RTT(),
			Connected: ch.StartTime(),
			Protected: m.IsSeed(p) || len(m.pending[p]) > 0,
		})
	}
	return out
}

// Evict implements host.EvictionSource: it stops p's inbound channel with
// ErrEvicted, counts it (Evictions) and publishes an inbound_evicted
// event.
func (m *Manager) Evict(p peer.ID) {
	ch := m.Channel(p)
	if ch == nil || ch.Session() != channel.Inbound {
		return
	}
	ch.Stop(ErrEvicted)
	if !errors.Is(ch.Err(), dhost.ErrEvicted) {
		return // it was stopping already
	}
	m.evictions.Add(1)
	m.cfg.Events.Publish(events.Event{Kind: events.InboundEvicted, ChannelID: ch.ID(), Addr: ch.RemoteAddr().String(),
		Session: ch.Session().String(), Err: ErrEvicted.Error()})
}

// Evictions returns how many inbound channels inbound eviction stopped.
func (m *Manager) Evictions() uint64 { return m.evictions.Load() }

// protectTag is the connection-manager protection tag of channel ch: a
// channel of any kind but inbound is protected (from eviction and from
// libp2p's trimming) while it lives.
func (m *Manager) protectTag(ch *channel.Channel) string {
	return fmt.Sprintf("dnode/%s/channel/%d", m.cfg.Network, ch.ID())
}
