package host

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// fakeConn is the part of a network.Conn the tracker uses; it counts its
// closes.
type fakeConn struct {
	network.Conn // nil: any other method panics
	dir          network.Direction
	closes       atomic.Int32
}

func (c *fakeConn) Stat() network.ConnStats {
	return network.ConnStats{Stats: network.Stats{Direction: c.dir}}
}
func (c *fakeConn) IsClosed() bool      { return c.closes.Load() > 0 }
func (c *fakeConn) Close() error        { c.closes.Add(1); return nil }
func (c *fakeConn) ID() string          { return "fake" }
func (c *fakeConn) RemotePeer() peer.ID { return "" }
func inbound() *fakeConn                { return &fakeConn{dir: network.DirInbound} }
func outbound() *fakeConn               { return &fakeConn{dir: network.DirOutbound} }
func (c *fakeConn) closed() int         { return int(c.closes.Load()) }
func tracker(limit int) *ConnTracker {
	return newConnTracker(slog.New(slog.DiscardHandler), limit, time.Second)
}
func stopTracker(t *ConnTracker) { t.close(); t.wait() }

// One connection refcount: the connection closes when its last user
// releases it, never before; a closed connection cannot be acquired.
func TestConnTrackerRefcount(t *testing.T) {
	t.Parallel()
	tr := tracker(8)
	defer stopTracker(tr)
	c := outbound()
	for range 2 { // a handshake and its channel
		if !tr.Acquire(c) {
			t.Fatal("Acquire of a live connection failed")
		}
	}
	if tr.Users(c) != 2 {
		t.Fatalf("users %d, want 2", tr.Users(c))
	}
	tr.Release(c)
	if c.closed() != 0 || tr.Users(c) != 1 {
		t.Fatalf("after one of two releases: closes %d, users %d; want 0, 1", c.closed(), tr.Users(c))
	}
	tr.Release(c)
	if c.closed() != 1 || tr.Users(c) != 0 {
		t.Fatalf("after the last release: closes %d, users %d; want 1, 0", c.closed(), tr.Users(c))
	}
	if tr.Acquire(c) {
		t.Fatal("a closed connection was acquired")
	}
}

// The inbound cap is hard: a connection past it is closed at once and not
// counted; outbound connections do not count; a disconnect frees a slot.
func TestConnTrackerInboundCap(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := tracker(2)
		defer stopTracker(tr)
		a, b, extra, out := inbound(), inbound(), inbound(), outbound()
		tr.Connected(nil, out)
		tr.Connected(nil, a)
		if tr.InboundFull() {
			t.Fatal("full at 1 of 2")
		}
		tr.Connected(nil, b)
		if !tr.InboundFull() || tr.Inbound() != 2 {
			t.Fatalf("inbound %d, full %v; want 2, true", tr.Inbound(), tr.InboundFull())
		}
		tr.Connected(nil, extra)
		synctest.Wait()
		if extra.closed() != 1 || tr.Inbound() != 2 {
			t.Fatalf("past the cap: closes %d, inbound %d; want 1, 2", extra.closed(), tr.Inbound())
		}
		tr.Disconnected(nil, a)
		if tr.InboundFull() || tr.Inbound() != 1 {
			t.Fatalf("after a disconnect: inbound %d, full %v", tr.Inbound(), tr.InboundFull())
		}
		if out.closed() != 0 || b.closed() != 0 {
			t.Fatal("a connection within the cap was closed")
		}
	})
}

// An inbound connection that no handshake acquires within the timeout is
// closed; one acquired in time is not, nor is one that went away.
func TestConnTrackerReaper(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := tracker(8)
		defer stopTracker(tr)
		idle, used, gone := inbound(), inbound(), inbound()
		for _, c := range []*fakeConn{idle, used, gone} {
			tr.Connected(nil, c)
		}
		time.Sleep(time.Second / 2)
		if !tr.Acquire(used) {
			t.Fatal("Acquire failed")
		}
		tr.Disconnected(nil, gone)
		time.Sleep(time.Second/2 - time.Millisecond)
		synctest.Wait()
		if idle.closed() != 0 {
			t.Fatal("reaped before the handshake timeout")
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if idle.closed() != 1 {
			t.Fatalf("idle connection closed %d times after the timeout, want 1", idle.closed())
		}
		if used.closed() != 0 || gone.closed() != 0 {
			t.Fatalf("closes: used %d, gone %d; want 0", used.closed(), gone.closed())
		}
		if tr.Inbound() != 2 {
			t.Fatalf("inbound %d, want 2 (idle until its disconnect, used)", tr.Inbound())
		}
	})
}

// After close no timer is left and nothing is tracked or acquired.
func TestConnTrackerClose(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := tracker(8)
		c := inbound()
		tr.Connected(nil, c)
		stopTracker(tr) // returns only once its timer is stopped
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if c.closed() != 0 {
			t.Fatal("a timer fired after close")
		}
		tr.Connected(nil, inbound())
		if tr.Inbound() != 0 {
			t.Fatalf("inbound %d after close, want 0", tr.Inbound())
		}
		if tr.Acquire(outbound()) {
			t.Fatal("Acquire after close succeeded")
		}
	})
}
