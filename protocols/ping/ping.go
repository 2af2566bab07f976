package ping

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols"
	"github.com/dnode-p2p/dnode/protocols/pb"
)

// Protocol name and version, and the message cap.
const (
	Name           = "ping"
	ProtocolSemver = "1.0.0"
	MaxBytes       = 32
)

// Errors that stop a channel.
var (
	ErrTimeout    = errors.New("no pong in time")
	ErrWrongNonce = errors.New("pong with wrong nonce")
)

// Config sets the protocol's timing. Timing returns, for a channel, the
// heartbeat interval and the pong timeout (the channel's transport
// profile).
type Config struct {
	Timing func(ch *channel.Channel) (interval, timeout time.Duration)
}

// NewSpec returns the ping stream's Spec. Metering allows 8 messages
// (pings and pongs) per window of min(10s, heartbeat).
func NewSpec(heartbeat time.Duration) *channel.Protocol[*pb.PingMessage] {
	window := 10 * time.Second
	if heartbeat > 0 && heartbeat < window {
		window = heartbeat
	}
	return channel.NewProtocol[*pb.PingMessage](Name, ProtocolSemver, MaxBytes,
		channel.Metering{Threshold: 8, Expiry: window})
}

// Registration returns the registry entry for the ping protocol on
// sessions, using proto (from NewSpec) as its stream.
func Registration(sessions channel.Session, proto *channel.Protocol[*pb.PingMessage], cfg Config) protocols.Registration {
	return protocols.Registration{
		Name:     Name,
		Sessions: sessions,
		Specs:    []*channel.Spec{proto.Spec()},
		New: func(ch *channel.Channel) (protocols.Protocol, error) {
			interval, timeout := cfg.Timing(ch)
			p := &pinger{ch: ch, proto: proto, interval: interval, timeout: timeout}
			proto.Handle(ch, p.handle)
			ch.OnStop(p.stopTimer)
			return p, nil
		},
	}
}

// pinger is the ping protocol on one channel.
type pinger struct {
	ch       *channel.Channel
	proto    *channel.Protocol[*pb.PingMessage]
	interval time.Duration
	timeout  time.Duration

	mu      sync.Mutex
	nonce   uint64
	sentAt  time.Time
	waiting bool
	timer   *time.Timer
	stopped bool
}

// Start sends the first ping.
func (p *pinger) Start(context.Context) error {
	p.ping()
	return nil
}

// ping sends a ping and arms the pong timeout.
func (p *pinger) ping() {
	p.ch.Run(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.stopped {
			return
		}
		p.nonce = randomNonce()
		p.sentAt = time.Now()
		p.waiting = true
		p.timer = time.AfterFunc(p.timeout, p.expire)
		msg := &pb.PingMessage{Body: &pb.PingMessage_Ping{Ping: &pb.Ping{Nonce: p.nonce}}}
		if err := p.proto.Send(p.ch, msg); err != nil && !errors.Is(err, channel.ErrStopped) {
			p.ch.Logger().Debug("ping not sent", "err", err)
		}
	})
}

// expire stops the channel if the pong is still awaited.
func (p *pinger) expire() {
	p.ch.Run(func() {
		p.mu.Lock()
		late := p.waiting && !p.stopped
		p.mu.Unlock()
		if late {
			p.ch.Logger().Info("closing channel: no pong", "timeout", p.timeout)
			p.ch.Stop(fmt.Errorf("%w (%s)", ErrTimeout, p.timeout))
		}
	})
}

func (p *pinger) handle(m *pb.PingMessage) error {
	switch b := m.Body.(type) {
	case *pb.PingMessage_Ping:
		reply := &pb.PingMessage{Body: &pb.PingMessage_Pong{Pong: &pb.Pong{Nonce: b.Ping.GetNonce()}}}
		if err := p.proto.Send(p.ch, reply); err != nil && !errors.Is(err, channel.ErrStopped) {
			p.ch.Logger().Debug("pong not sent", "err", err)
		}
		return nil
	case *pb.PingMessage_Pong:
		return p.pong(b.Pong.GetNonce())
	default:
		return fmt.Errorf("%w: empty ping message", channel.ErrViolation)
	}
}

// pong checks a pong, records the RTT and schedules the next ping.
func (p *pinger) pong(nonce uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.waiting || p.stopped {
		return nil // unsolicited pong: ignored
	}
	if nonce != p.nonce {
		p.ch.Logger().Info("closing channel: pong with wrong nonce")
		return fmt.Errorf("%w: got %d, want %d", ErrWrongNonce, nonce, p.nonce)
	}
	p.waiting = false
	rtt := time.Since(p.sentAt)
	if p.ch.RTT() == 0 {
		p.ch.Logger().Info("ping-pong ok", "rtt", rtt, "next_in", p.interval)
	} else {
		p.ch.Logger().Debug("ping-pong ok", "rtt", rtt)
	}
	p.ch.SetRTT(max(rtt, time.Nanosecond))
	p.timer.Stop()
	p.timer = time.AfterFunc(p.interval, p.ping)
	return nil
}

func (p *pinger) stopTimer() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.timer != nil {
		p.timer.Stop()
	}
}

func randomNonce() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}
