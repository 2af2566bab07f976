package memnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// ErrReset is returned by writes on a connection the peer has closed.
var ErrReset = fmt.Errorf("memnet: %w", syscall.ECONNRESET)

// segment is one write, readable from due on; eof marks the writer's close.
type segment struct {
	data []byte
	due  time.Time
	eof  bool
}

// half is one direction of a connection: what one end wrote and the
// other has not read yet.
type half struct {
	mu    sync.Mutex
	segs  []segment
	reset bool          // the reading end closed: writes fail
	wake  chan struct{} // closed (and replaced) on every change
}

func newHalf() *half { return &half{wake: make(chan struct{})} }

// signal wakes every waiter; h.mu must be held.
func (h *half) signal() {
	close(h.wake)
	h.wake = make(chan struct{})
}

// push appends a segment due at due; it fails once the reader closed.
func (h *half) push(p []byte, due time.Time, eof bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reset {
		return ErrReset
	}
	if n := len(h.segs); n > 0 && !eof && !h.segs[n-1].eof && h.segs[n-1].due.Equal(due) {
		h.segs[n-1].data = append(h.segs[n-1].data, p...)
	} else {
		h.segs = append(h.segs, segment{data: append([]byte(nil), p...), due: due, eof: eof})
	}
	h.signal()
	return nil
}

// Conn is one end of an in-memory connection. It implements manet.Conn.
type Conn struct {
	latency      time.Duration
	in, out      *half
	laddr, raddr *net.TCPAddr
	lma, rma     ma.Multiaddr

	mu       sync.Mutex
	closed   bool
	closedCh chan struct{}
	rdl, wdl time.Time
	dlCh     chan struct{} // closed (and replaced) when a deadline changes
}

var _ manet.Conn = (*Conn)(nil)

// pair returns the two ends of a new connection between a and b.
func pair(latency time.Duration, a, b *net.TCPAddr) (*Conn, *Conn) {
	ab, ba := newHalf(), newHalf()
	mk := func(in, out *half, l, r *net.TCPAddr) *Conn {
		lma, _ := manet.FromNetAddr(l)
		rma, _ := manet.FromNetAddr(r)
		return &Conn{latency: latency, in: in, out: out, laddr: l, raddr: r, lma: lma, rma: rma,
			closedCh: make(chan struct{}), dlCh: make(chan struct{})}
	}
	return mk(ba, ab, a, b), mk(ab, ba, b, a)
}

// check returns the time, the read (or write) deadline and the channel
// that signals a deadline change, or the error a read (or write) gets now:
// net.ErrClosed, os.ErrDeadlineExceeded.
func (c *Conn) check(read bool) (now, dl time.Time, dlCh chan struct{}, err error) {
	c.mu.Lock()
	closed, dl, dlCh := c.closed, c.wdl, c.dlCh
	if read {
		dl = c.rdl
	}
	c.mu.Unlock()
	now = time.Now()
	switch {
	case closed:
		err = net.ErrClosed
	case !dl.IsZero() && !now.Before(dl):
		err = os.ErrDeadlineExceeded
	}
	return now, dl, dlCh, err
}

// Read reads what the peer wrote at least one latency ago, blocking until
// something is due, the read deadline passes, or the conn is closed.
func (c *Conn) Read(p []byte) (int, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		now, dl, dlCh, err := c.check(true)
		if err != nil {
			return 0, err
		}
		h := c.in
		h.mu.Lock()
		n := 0
		for len(h.segs) > 0 && n < len(p) && !now.Before(h.segs[0].due) {
			s := &h.segs[0]
			if s.eof {
				break
			}
			k := copy(p[n:], s.data)
			n += k
			s.data = s.data[k:]
			if len(s.data) == 0 {
				h.segs[0] = segment{}
				h.segs = h.segs[1:]
			}
		}
		if n > 0 || len(p) == 0 {
			h.mu.Unlock()
			return n, nil
		}
		if len(h.segs) > 0 && h.segs[0].eof && !now.Before(h.segs[0].due) {
			h.mu.Unlock()
			return 0, io.EOF
		}
		wake := h.wake
		wait := time.Duration(-1)
		if len(h.segs) > 0 {
			wait = h.segs[0].due.Sub(now)
		}
		h.mu.Unlock()
		if !dl.IsZero() && (wait < 0 || dl.Sub(now) < wait) {
			wait = dl.Sub(now)
		}
		var tc <-chan time.Time
		if wait >= 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			tc = timer.C
		}
		select {
		case <-wake:
		case <-dlCh:
		case <-c.closedCh:
		case <-tc:
		}
	}
}

// Write queues p for the peer, readable one latency from now. It never
// blocks; it fails once the conn or the peer's end is closed, or the
// write deadline has passed.
func (c *Conn) Write(p []byte) (int, error) {
	now, _, _, err := c.check(false)
	if err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.out.push(p, now.Add(c.latency), false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close closes the conn: blocked and later reads and writes fail with
// net.ErrClosed, unread data is dropped, and the peer reads io.EOF after
// what was written. It is safe to call more than once.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.closedCh)
	c.mu.Unlock()
	_ = c.out.push(nil, time.Now().Add(c.latency), true)
	h := c.in
	h.mu.Lock()
	h.reset = true
	h.segs = nil
	h.signal()
	h.mu.Unlock()
	return nil
}

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// SetReadDeadline sets the read deadline; a blocked Read wakes.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdl = t
	close(c.dlCh)
	c.dlCh = make(chan struct{})
	return nil
}

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wdl = t
	return nil
}

func (c *Conn) LocalAddr() net.Addr           { return c.laddr }
func (c *Conn) RemoteAddr() net.Addr          { return c.raddr }
func (c *Conn) LocalMultiaddr() ma.Multiaddr  { return c.lma }
func (c *Conn) RemoteMultiaddr() ma.Multiaddr { return c.rma }
