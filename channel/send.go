package channel

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	msmux "github.com/multiformats/go-multistream"
	"google.golang.org/protobuf/proto"
)

// outFrame is one encoded message waiting in the send queue.
type outFrame struct {
	ps   *protoState
	data []byte // the encoded message, or its head when tail is set
	tail []byte // the rest of the message (SendParts), written from where it is
}

func (f outFrame) size() int { return len(f.data) + len(f.tail) }

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
// that does not support id makes the first read fail. The stream is
// attached to ServiceName (ScopeStream). The returned stream is for
// deadlines, Reset and scope; read and write through the LazyConn.
// On a limited (relayed) connection the stream is allowed explicitly
// (network.WithAllowLimitedConn); on any other connection ctx is used as
// given.
func OpenStream(ctx context.Context, conn network.Conn, id string) (network.Stream, msmux.LazyConn, error) {
	if conn.Stat().Limited {
		ctx = network.WithAllowLimitedConn(ctx, "dnode channel")
	}
	s, err := conn.NewStream(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := s.SetProtocol(protocolID(id)); err != nil {
		s.Reset()
		return nil, nil, err
	}
	if _, err := ScopeStream(s, 0); err != nil {
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

// HandleRaw attaches spec and hands every received message of it to h
// undecoded; see RawHandler. A second call replaces h.
func (c *Channel) HandleRaw(spec *Spec, h RawHandler) {
	c.mu.Lock()
	c.attachLocked(spec).raw = h
	c.mu.Unlock()
}

// Filter attaches spec and calls f with every received message of spec
// before it is decoded, before handlers and subscriptions; see Filter.
func (c *Channel) Filter(spec *Spec, f Filter) {
	c.mu.Lock()
	ps := c.attachLocked(spec)
	ps.filters = append(append([]Filter(nil), ps.filters...), f)
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
	return c.SendParts(spec, data, nil)
}

// SendParts is SendEncoded for a message encoded in two parts, head then
// tail, which go out as one frame: a relay forwards a large payload it
// received with a new header, without copying the payload. Neither part
// may be modified afterwards.
func (c *Channel) SendParts(spec *Spec, head, tail []byte) error {
	size := len(head) + len(tail)
	if size > spec.maxBytes {
		return fmt.Errorf("%w: %s message of %d bytes, cap %d", ErrTooLarge, spec.name, size, spec.maxBytes)
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
	c.queue = append(c.queue, outFrame{ps: ps, data: head, tail: tail})
	c.queued += size
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

// Queued returns the frames and bytes waiting in the send queue (not
// counting a batch being written).
func (c *Channel) Queued() (frames, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue), c.queued
}

// writeLoop drains the send queue in batches and exits when it is empty.
func (c *Channel) writeLoop() {
	defer c.wg.Done()
	bp := writeBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= 2*maxWrite { // a huge frame's buffer is not kept
			*bp = buf[:0]
			writeBufs.Put(bp)
		}
	}()
	var batch []outFrame
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.stopErr != nil {
			c.writing = false
			c.mu.Unlock()
			return
		}
		batch, c.queue = c.queue, batch[:0]
		c.queued = 0
		c.mu.Unlock()
		var err error
		if buf, err = c.writeBatch(batch, buf); err != nil {
			c.log.Debug("write failed", "err", err)
			c.Stop(fmt.Errorf("write: %w", err))
			return
		}
		clear(batch)
	}
}

// maxWrite is the most bytes writeBatch hands to one stream Write: the
// largest write that yamux (a 12-byte header per frame) and noise (65519
// bytes of plaintext per message) send as one encrypted message, so one
// syscall; a write of 64 KiB took two. A bounded write buffer can be
// reused for every batch.
const maxWrite = 65519 - 12

// writeBufs recycles writer buffers: a writer goroutine takes one for as
// long as it runs, so an idle channel holds none.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, maxWrite); return &b }}

// writeBatch writes a batch, coalescing the frames of each stream into
// writes of up to maxWrite bytes and keeping the order of frames within
// each protocol. buf is the writer's scratch buffer; the grown buffer is
// returned.
func (c *Channel) writeBatch(batch []outFrame, buf []byte) ([]byte, error) {
	// Batches hold few protocols: scan for each one in turn, in the
	// order of first appearance; the common batch has a single protocol.
	var done [4]*protoState
	doneN := 0
	for i, f := range batch {
		ps := f.ps
		seen := false
		for _, d := range done[:min(doneN, len(done))] {
			if d == ps {
				seen = true
				break
			}
		}
		if !seen && doneN > len(done) {
			// More protocols than done holds: check the batch prefix.
			for _, g := range batch[:i] {
				if g.ps == ps {
					seen = true
					break
				}
			}
		}
		if seen {
			continue
		}
		if doneN < len(done) {
			done[doneN] = ps
		}
		doneN++
		var err error
		if buf, err = c.writeProto(ps, batch[i:], buf); err != nil {
			return buf, err
		}
	}
	c.sent.Add(uint64(len(batch)))
	if o := c.cfg.Observer; o != nil {
		for _, f := range batch {
			o.Message(c, f.ps.spec, true, f.size())
		}
	}
	return buf, nil
}

// writeProto writes the frames of ps in frames (the rest of a batch
// starting with ps's first frame) to ps's stream.
func (c *Channel) writeProto(ps *protoState, frames []outFrame, buf []byte) ([]byte, error) {
	out, err := c.outStream(ps)
	if err != nil {
		return buf, err
	}
	// A stream's deadline is moved
	// only when less than half of WriteTimeout is left, which saves a timer
	// reset per batch while keeping every write bounded.
	if now := time.Now(); out.deadline.Sub(now) < c.cfg.WriteTimeout/2 {
		out.deadline = now.Add(c.cfg.WriteTimeout)
		_ = out.s.SetWriteDeadline(out.deadline)
	}
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		n, err := out.rw.Write(buf)
		c.bytesOut.Add(uint64(n))
		buf = buf[:0]
		if err != nil {
			return fmt.Errorf("%s: %w", ps.spec.name, err)
		}
		return nil
	}
	for _, f := range frames {
		if f.ps != ps {
			continue
		}
		if f.size() >= maxWrite/2 {
			// A large message is written from where it is, not copied:
			// its length (and a small head) go out with the frames
			// before it.
			buf = binary.AppendUvarint(buf, uint64(f.size()))
			parts := fillWrite(&buf, [][]byte{f.data, f.tail})
			if err := flush(); err != nil {
				return buf, err
			}
			for _, p := range parts {
				if len(p) == 0 {
					continue
				}
				n, err := out.rw.Write(p)
				c.bytesOut.Add(uint64(n))
				if err != nil {
					return buf, fmt.Errorf("%s: %w", ps.spec.name, err)
				}
			}
			continue
		}
		if len(buf) > 0 && len(buf)+binary.MaxVarintLen64+f.size() > maxWrite {
			if err := flush(); err != nil {
				return buf, err
			}
		}
		buf = binary.AppendUvarint(buf, uint64(f.size()))
		buf = append(buf, f.data...)
		buf = append(buf, f.tail...)
	}
	return buf, flush()
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
