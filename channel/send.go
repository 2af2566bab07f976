package channel

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	msmux "github.com/multiformats/go-multistream"
	"google.golang.org/protobuf/proto"
)

// outFrame is one encoded message waiting in the send queue.
type outFrame struct {
	ps   *protoState
	data []byte
}

// outStream is the channel's outgoing stream for one protocol, with lazy
// protocol negotiation: the multistream header leaves with the first
// frames, so opening a stream costs no round trip.
type outStream struct {
	s        network.Stream
	rw       msmux.LazyConn
	deadline time.Time // the write deadline set on s; only the writer touches it
}

// OpenStream opens a stream for protocol id on conn with lazy
// negotiation: the first write carries the multistream header, and a peer
// that does not support id makes the first read fail. The returned stream
// is for deadlines, Reset and scope; read and write through the LazyConn.
func OpenStream(ctx context.Context, conn network.Conn, id string) (network.Stream, msmux.LazyConn, error) {
	s, err := conn.NewStream(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := s.SetProtocol(protocolID(id)); err != nil {
		s.Reset()
		return nil, nil, err
	}
	return s, msmux.NewMSSelect(s, protocolID(id)), nil
}

// attach returns the state of spec on this channel, creating it. c.mu
// must be held.
func (c *Channel) attachLocked(spec *Spec) *protoState {
	ps := c.protos[spec]
	if ps == nil {
		ps = &protoState{spec: spec}
		c.protos[spec] = ps
		c.meterSum += spec.metering.Threshold
	}
	return ps
}

// Attach declares that the channel runs protocol spec, so that the peer's
// stream for it is served. Subscribe attaches implicitly.
func (c *Channel) Attach(spec *Spec) {
	c.mu.Lock()
	c.attachLocked(spec)
	c.mu.Unlock()
}

// Attached reports whether spec is attached to the channel.
func (c *Channel) Attached(spec *Spec) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.protos[spec] != nil
}

func (c *Channel) subscribe(spec *Spec, capacity int) *subscriber {
	s := newSubscriber(c, spec, capacity)
	c.mu.Lock()
	ps := c.attachLocked(spec)
	ps.subs = append(append([]*subscriber(nil), ps.subs...), s)
	c.mu.Unlock()
	return s
}

func (c *Channel) unsubscribe(s *subscriber) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.protos[s.spec]
	if ps == nil {
		return
	}
	subs := make([]*subscriber, 0, len(ps.subs))
	for _, x := range ps.subs {
		if x != s {
			subs = append(subs, x)
		}
	}
	ps.subs = subs
}

// Handle attaches spec and calls h for every message of spec received on
// the channel, in the stream's reader goroutine, before subscriptions see
// it. Use it for protocols that react without blocking (ping, relays); it
// costs no goroutine.
func (c *Channel) Handle(spec *Spec, h Handler) {
	c.mu.Lock()
	ps := c.attachLocked(spec)
	ps.handlers = append(append([]Handler(nil), ps.handlers...), h)
	c.mu.Unlock()
}

// Send encodes msg and queues it for the peer on spec's stream, attaching
// spec if needed. It never blocks on the network. It returns ErrStopped
// after Stop, ErrQueueFull (the message is dropped and counted) when the
// send queue is full, and ErrWrongType or ErrTooLarge for a bad message.
func (c *Channel) Send(spec *Spec, msg proto.Message) error {
	data, err := spec.Encode(msg)
	if err != nil {
		return err
	}
	return c.SendEncoded(spec, data)
}

// SendEncoded queues an already encoded message of spec; it lets a
// broadcast encode once. data must not be modified afterwards. It returns
// ErrUnsupported, and sends nothing, when the peer did not announce spec's
// protocol in its Version.
func (c *Channel) SendEncoded(spec *Spec, data []byte) error {
	if len(data) > spec.maxBytes {
		return fmt.Errorf("%w: %s message of %d bytes, cap %d", ErrTooLarge, spec.name, len(data), spec.maxBytes)
	}
	if !c.PeerRuns(spec) {
		return fmt.Errorf("%w: %s", ErrUnsupported, spec.ID(c.cfg.Network))
	}
	c.mu.Lock()
	if c.stopErr != nil {
		c.mu.Unlock()
		return ErrStopped
	}
	if len(c.queue) >= c.cfg.SendQueue {
		c.mu.Unlock()
		c.dropped.Add(1)
		if o := c.cfg.Observer; o != nil {
			o.Dropped(c, spec, "send_queue")
		}
		return ErrQueueFull
	}
	ps := c.attachLocked(spec)
	c.queue = append(c.queue, outFrame{ps: ps, data: data})
	start := !c.writing
	if start {
		c.writing = true
		c.wg.Add(1)
	}
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
	return nil
}

// writeLoop drains the send queue in batches and exits when it is empty.
func (c *Channel) writeLoop() {
	defer c.wg.Done()
	var batch []outFrame
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.stopErr != nil {
			c.writing = false
			c.mu.Unlock()
			return
		}
		batch, c.queue = c.queue, batch[:0]
		c.mu.Unlock()
		if err := c.writeBatch(batch); err != nil {
			c.log.Debug("write failed", "err", err)
			c.Stop(fmt.Errorf("write: %w", err))
			return
		}
		clear(batch)
	}
}

// writeBatch writes a batch with one write per stream, keeping the order
// of frames within each protocol.
func (c *Channel) writeBatch(batch []outFrame) error {
	// Batches hold few protocols: a slice beats a map here.
	type group struct {
		ps  *protoState
		buf []byte
	}
	var groups []group
	for _, f := range batch {
		i := 0
		for i < len(groups) && groups[i].ps != f.ps {
			i++
		}
		if i == len(groups) {
			groups = append(groups, group{ps: f.ps})
		}
		groups[i].buf = binary.AppendUvarint(groups[i].buf, uint64(len(f.data)))
		groups[i].buf = append(groups[i].buf, f.data...)
	}
	// Deadlines are compared with the OS clock by the transport, so they
	// use real time, not the injected clock. A stream's deadline is moved
	// only when less than half of WriteTimeout is left, which saves a timer
	// reset per batch while keeping every write bounded.
	now := time.Now()
	for _, g := range groups {
		out, err := c.outStream(g.ps)
		if err != nil {
			return err
		}
		if out.deadline.Sub(now) < c.cfg.WriteTimeout/2 {
			out.deadline = now.Add(c.cfg.WriteTimeout)
			_ = out.s.SetWriteDeadline(out.deadline)
		}
		n, err := out.rw.Write(g.buf)
		c.bytesOut.Add(uint64(n))
		if err != nil {
			return fmt.Errorf("%s: %w", g.ps.spec.name, err)
		}
	}
	c.sent.Add(uint64(len(batch)))
	if o := c.cfg.Observer; o != nil {
		for _, f := range batch {
			o.Message(c, f.ps.spec, true, len(f.data))
		}
	}
	return nil
}

// outStream returns the outgoing stream of ps, opening it on first use.
// Only the writer goroutine calls it.
func (c *Channel) outStream(ps *protoState) (*outStream, error) {
	c.mu.Lock()
	out := ps.out
	c.mu.Unlock()
	if out != nil {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.WriteTimeout)
	defer cancel()
	s, rw, err := OpenStream(ctx, c.cfg.Conn, string(ps.spec.ID(c.cfg.Network)))
	if err != nil {
		return nil, fmt.Errorf("open %s stream: %w", ps.spec.name, err)
	}
	c.mu.Lock()
	if c.stopErr != nil {
		c.mu.Unlock()
		s.Reset()
		return nil, ErrStopped
	}
	ps.out = &outStream{s: s, rw: rw}
	c.mu.Unlock()
	// The outgoing stream is never read: the peer's messages come on its
	// own stream. The peer's multistream confirmation (a few bytes) stays
	// unread in the stream's receive window.
	return ps.out, nil
}
