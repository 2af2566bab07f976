package channel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"
)

func protocolID(s string) protocol.ID { return protocol.ID(s) }

// serveStream is Control.ServeStream.
func (c *Channel) serveStream(spec *Spec, s network.Stream) {
	release, err := ScopeStream(s, streamMemory)
	if err != nil {
		s.Reset()
		return
	}
	defer release()
	select {
	case <-c.ready:
	case <-c.stopping:
		s.Reset()
		return
	}
	c.mu.Lock()
	ps := c.protos[spec]
	if ps == nil || ps.in != nil || c.stopErr != nil {
		c.mu.Unlock()
		s.Reset()
		return
	}
	ps.in = s
	c.wg.Add(1)
	c.mu.Unlock()
	defer c.wg.Done()

	err = c.readLoop(ps, s)
	switch {
	case err == nil:
		s.Close()
	case errors.Is(err, ErrViolation):
		s.Reset()
		c.violation(err)
	default:
		s.Reset()
		c.Stop(fmt.Errorf("read %s: %w", spec.name, err))
	}
}

// readLoop reads frames until EOF (nil), a read error, or a violation.
func (c *Channel) readLoop(ps *protoState, s network.Stream) error {
	// The reader turns the length prefix and payload of a message (and
	// of back-to-back messages) into one read of the stream, with a
	// buffer from a pool held only while a frame is in progress
	// (readbuf.go).
	br := newFrameReader(s)
	defer br.Close()
	for {
		// Wait for a frame without a deadline: idle time is bounded by the
		// channel's liveness (ping), not by the stream.
		first, err := br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		// Once started, a frame must complete within FrameTimeout. The
		// deadline (a timer reset each time) is only needed when a read
		// may block: not when the frame is already in the buffer, which
		// is the common case for small messages.
		deadline := false
		setDeadline := func() {
			_ = s.SetReadDeadline(time.Now().Add(c.cfg.FrameTimeout)) // real time: see writeProto
			deadline = true
		}
		if first >= 0x80 && br.Buffered() < binary.MaxVarintLen64-1 {
			setDeadline()
		}
		n, err := readFrameLen(first, br, ps.spec.maxBytes)
		if err != nil {
			return fmt.Errorf("%s: %w", ps.spec.name, err)
		}
		if !deadline && br.Buffered() < n {
			setDeadline()
		}
		// Frames up to scratchMax are read into the reader's pooled
		// buffer: filters must not keep raw, and proto.Unmarshal copies
		// what it keeps, so nothing refers to it once the frame is
		// handled.
		var buf []byte
		var pooled *[]byte // a large frame's pooled buffer (largebuf.go)
		if n <= scratchMax {
			buf, err = br.payload(n)
		} else {
			buf, pooled, err = c.readLarge(ps, br, n)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", ps.spec.name, err)
		}
		if deadline {
			_ = s.SetReadDeadline(time.Time{})
		}
		c.bytesIn.Add(uint64(len(buf) + uvarintLen(uint64(len(buf)))))
		if keep, err := c.filter(ps, buf); err != nil {
			return err
		} else if !keep {
			releaseLarge(pooled)
			c.received.Add(1)
			if o := c.cfg.Observer; o != nil {
				o.Message(c, ps.spec, false, len(buf))
			}
			continue
		}
		c.mu.Lock()
		raw := ps.raw
		c.mu.Unlock()
		if raw != nil {
			c.received.Add(1)
			if o := c.cfg.Observer; o != nil {
				o.Message(c, ps.spec, false, len(buf))
			}
			c.mu.Lock()
			err := c.meterLocked(ps)
			c.mu.Unlock()
			if err != nil {
				return err
			}
			if err := raw(buf, n > scratchMax); err != nil {
				return err
			}
			continue
		}
		msg := ps.spec.newMessage()
		err = proto.Unmarshal(buf, msg)
		releaseLarge(pooled) // msg holds copies
		if err != nil {
			return fmt.Errorf("%w: %s: undecodable message: %w", ErrViolation, ps.spec.name, err)
		}
		c.received.Add(1)
		if o := c.cfg.Observer; o != nil {
			o.Message(c, ps.spec, false, len(buf))
		}
		if err := c.dispatch(ps, msg); err != nil {
			return err
		}
	}
}

// filter runs the filters of ps on raw; a message a filter drops is
// metered here, since it is not dispatched.
func (c *Channel) filter(ps *protoState, raw []byte) (bool, error) {
	c.mu.Lock()
	filters := ps.filters
	c.mu.Unlock()
	for _, f := range filters {
		if !f(raw) {
			c.mu.Lock()
			err := c.meterLocked(ps)
			c.mu.Unlock()
			return false, err
		}
	}
	return true, nil
}

// meterLocked counts one received message of ps against the metering
// limit; c.mu must be held.
func (c *Channel) meterLocked(ps *protoState) error {
	if ps.spec.metering.Threshold > 0 {
		now := time.Now()
		ps.meter.push(now, ps.spec.metering.Expiry)
		total := 0
		for _, o := range c.protos {
			if o.spec.metering.Threshold > 0 {
				total += o.meter.total(now, o.spec.metering.Expiry)
			}
		}
		if total > c.meterSum {
			return fmt.Errorf("%w: metering limit exceeded (%d messages, limit %d)", ErrViolation, total, c.meterSum)
		}
	}
	return nil
}

// dispatch meters msg and hands it to every subscriber of ps.
func (c *Channel) dispatch(ps *protoState, msg proto.Message) error {
	c.mu.Lock()
	if err := c.meterLocked(ps); err != nil {
		c.mu.Unlock()
		return err
	}
	handlers := ps.handlers
	subs := ps.subs
	c.mu.Unlock()
	for _, h := range handlers {
		if err := h(msg); err != nil {
			return err
		}
	}
	for _, s := range subs {
		s.push(msg)
	}
	return nil
}

// scratchMax is the largest frame read into a pooled read buffer;
// larger frames get their own allocation.
const scratchMax = 4096

// byteReader reads single bytes from a reader; over an unbuffered stream
// it reads nothing ahead, so payloads can follow from the same reader.
type byteReader struct {
	r   io.Reader
	one [1]byte
}

func (b *byteReader) ReadByte() (byte, error) {
	if br, ok := b.r.(io.ByteReader); ok {
		return br.ReadByte()
	}
	if _, err := io.ReadFull(b.r, b.one[:]); err != nil {
		return 0, err
	}
	return b.one[0], nil
}

var _ io.ByteReader = (*byteReader)(nil)

// readUvarint decodes an unsigned varint whose first byte is first.
func readUvarint(first byte, r io.ByteReader) (uint64, error) {
	if first < 0x80 {
		return uint64(first), nil
	}
	x := uint64(first & 0x7f)
	s := uint(7)
	for i := 1; i < binary.MaxVarintLen64; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, errors.New("varint overflows 64 bits")
			}
			if b == 0 {
				return 0, errors.New("non-minimal varint")
			}
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	return 0, errors.New("varint overflows 64 bits")
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// meterQueue is DarkFi's MeteringQueue with a score of 1 per message:
// the receive times of recent messages, oldest first.
type meterQueue struct {
	times []time.Time
}

func (m *meterQueue) prune(now time.Time, expiry time.Duration) {
	i := 0
	for i < len(m.times) && now.Sub(m.times[i]) >= expiry {
		i++
	}
	m.times = m.times[i:]
}

func (m *meterQueue) push(now time.Time, expiry time.Duration) {
	m.prune(now, expiry)
	m.times = append(m.times, now)
}

func (m *meterQueue) total(now time.Time, expiry time.Duration) int {
	m.prune(now, expiry)
	return len(m.times)
}
