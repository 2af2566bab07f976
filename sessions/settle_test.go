package sessions

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/protocols/version"
)

// connsOf records every connection h's node opens or accepts.
type connsOf struct {
	mu    sync.Mutex
	conns []network.Conn
}

func watchConns(tn *testNode) *connsOf {
	c := &connsOf{}
	tn.h.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, conn network.Conn) {
		c.mu.Lock()
		c.conns = append(c.conns, conn)
		c.mu.Unlock()
	}})
	return c
}

func (c *connsOf) all() []network.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]network.Conn(nil), c.conns...)
}

// A peer that accepts the connection and the version stream but never
// answers fails the handshake at the profile's handshake timeout, not
// before and not much later; the connection is released and closed, no
// channel is left, and the host is free again in the book (a direct dial
// leases it).
// Either order of peer IDs: after our own timeout no handshake of a
// smaller peer's is waited for (connectOnce waits only after a refusal).
func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	for _, larger := range []bool{true, false} {
		t.Run(fmt.Sprintf("peer ID larger %v", larger), func(t *testing.T) {
			t.Parallel()
			handshakeTimeout(t, larger)
		})
	}
}

func handshakeTimeout(t *testing.T, larger bool) {
	synctest.Test(t, func(t *testing.T) {
		n := newSimNet(t)
		a := n.node("11.0.0.1", nil)
		key := keyWhere(t, func(id peer.ID) bool { return (id > a.id()) == larger })
		mute := n.wirePeerWith(key, "11.1.0.1", testNetwork, wireNever)
		conns := watchConns(a)
		d := NewDirect(a.m)
		began := time.Now()
		ch, _, err := d.Get(context.Background(), mute.addr)
		took := time.Since(began)
		if !errors.Is(err, ErrHandshake) || !errors.Is(err, version.ErrTimeout) || ch != nil {
			t.Fatalf("Get = %v, %v; want a handshake timeout", ch, err)
		}
		// The dial takes a few round trips of simLatency before the
		// exchange starts its clock.
		if took < testHandshakeTimeout || took > testHandshakeTimeout+50*time.Millisecond {
			t.Fatalf("handshake failed after %s (%v), want the %s timeout", took, err, testHandshakeTimeout)
		}
		waitFor(t, time.Second, func() error {
			cs := conns.all()
			if len(cs) != 1 {
				return errors.New("not exactly one connection was opened")
			}
			if u := a.h.Conns.Users(cs[0]); u != 0 || !cs[0].IsClosed() {
				return errors.New("the connection is still held or open")
			}
			return nil
		})
		if s := a.book.State(mute.h.ID()); s != addrbook.Free {
			t.Errorf("the host is %v in the book, want free", s)
		}
		a.m.mu.Lock()
		left, pending := len(a.m.all), len(a.m.pending)
		a.m.mu.Unlock()
		if left != 0 || pending != 0 {
			t.Errorf("%d channels and %d handshakes left", left, pending)
		}
		if err := d.Stop(context.Background()); err != nil {
			t.Errorf("Direct.Stop: %v", err)
		}
	})
}

// A peer that answers just before the handshake timeout gets its
// channel; one on another network is refused at once.
func TestHandshakeLateAnswer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newSimNet(t)
		a := n.node("11.0.0.1", nil)
		late := n.wirePeer("11.1.0.1", testNetwork, testHandshakeTimeout-100*time.Millisecond)
		// A larger peer ID, as in TestHandshakeTimeout.
		other := n.wirePeerWith(keyWhere(t, func(id peer.ID) bool { return id > a.id() }), "11.2.0.1", "other", 0)
		d := NewDirect(a.m)
		ctx := context.Background()
		began := time.Now()
		ch, release, err := d.Get(ctx, late.addr)
		took := time.Since(began)
		if err != nil {
			t.Fatalf("Get from a peer that answers in time: %v", err)
		}
		if took < testHandshakeTimeout-100*time.Millisecond || took >= testHandshakeTimeout {
			t.Errorf("handshake took %s, want just under %s", took, testHandshakeTimeout)
		}
		if s := a.book.State(late.h.ID()); s != addrbook.Connected {
			t.Errorf("the host is %v in the book, want connected", s)
		}
		if c, _ := a.book.Contains(late.h.ID()); c != addrbook.Gold {
			t.Errorf("the host is in %v, want gold", c)
		}
		release()
		<-ch.Done()

		began = time.Now()
		if _, _, err := d.Get(ctx, other.addr); !errors.Is(err, version.ErrOtherNetwork) {
			t.Fatalf("Get from a peer of another network: %v, want ErrOtherNetwork", err)
		}
		if took := time.Since(began); took >= testHandshakeTimeout/2 {
			t.Errorf("the refusal took %s", took)
		}
		waitFor(t, time.Second, func() error {
			if s := a.book.State(late.h.ID()); s != addrbook.Free {
				return errors.New("the released host is not free in the book")
			}
			return nil
		})
		if err := d.Stop(ctx); err != nil {
			t.Errorf("Direct.Stop: %v", err)
		}
	})
}
