package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/core/transport"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// floodInbound is the inbound cap of the flood tests' daemons.
const floodInbound = 64

// fdBound is the most open descriptors a flood may add to the daemon: the
// resource manager admits inbound_connections + 32 inbound connections
// (host.handshakeSlack); twice that covers connections accepted by the
// kernel and closed at once.
const fdBound = 2*(floodInbound+32) + 32

// securedDialer dials many secured (noise, yamux) libp2p connections from
// one identity: a bare TCP transport, without a host that would reuse one
// connection per peer.
func securedDialer(t *testing.T) *tcp.TcpTransport {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	muxers := []upgrader.StreamMuxer{{ID: "/yamux/1.0.0", Muxer: yamux.DefaultTransport}}
	noiseTr, err := noise.New(noise.ID, key, muxers)
	if err != nil {
		t.Fatal(err)
	}
	u, err := upgrader.New([]sec.SecureTransport{noiseTr}, muxers, nil, &network.NullResourceManager{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tcp.NewTCPTransport(u, &network.NullResourceManager{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestDaemonFloodSecured: connections that complete libp2p's security and muxer
// handshakes but never dnode's version handshake, all at once from one
// identity. The resource manager and the inbound cap refuse most; the
// connection tracker closes the rest after the handshake timeout.
func TestDaemonFloodSecured(t *testing.T) {
	fullOnly(t)
	sz := sizes()
	runAttack(t, "flood-secured", daemonConfig{inbound: floodInbound}, func(t *testing.T, d *daemon) string {
		tr := securedDialer(t)
		var (
			mu     sync.Mutex
			conns  []transport.CapableConn
			failed atomic.Int64
			wg     sync.WaitGroup
		)
		sem := make(chan struct{}, 128)
		start := time.Now()
		for range sz.floodConns {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				c, err := tr.Dial(ctx, d.Multiaddr(), d.ID())
				if err != nil {
					failed.Add(1)
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}()
		}
		wg.Wait()
		dialed := time.Since(start)
		// Every connection must be closed by the daemon: refused at once
		// or reaped after the handshake timeout (2 s here).
		deadline := time.Now().Add(15 * time.Second)
		for _, c := range conns {
			for !c.IsClosed() {
				if time.Now().After(deadline) {
					t.Fatalf("a secured connection without a handshake is still open after %s", 15*time.Second)
				}
				poll(nil, 20*time.Millisecond)
			}
		}
		for _, c := range conns {
			_ = c.Close()
		}
		return fmt.Sprintf("%d dials in %s: %d secured, %d refused during the handshake, all closed by the daemon within %s",
			sz.floodConns, dialed.Round(time.Millisecond), len(conns), failed.Load(), time.Since(start).Round(time.Millisecond))
	}, assertFdBound)
}

// TestDaemonFloodRaw: TCP connections that never send a byte. libp2p's
// upgrader closes them after its accept timeout (15 s); the resource
// manager admits at most inbound_connections + 32 meanwhile. After the
// flood a new honest peer gets a channel.
func TestDaemonFloodRaw(t *testing.T) {
	fullOnly(t)
	sz := sizes()
	runAttack(t, "flood-raw", daemonConfig{inbound: floodInbound}, func(t *testing.T, d *daemon) string {
		var (
			wg      sync.WaitGroup
			dialErr atomic.Int64
			open    atomic.Int64
			slowest atomic.Int64
		)
		sem := make(chan struct{}, 256)
		start := time.Now()
		for range sz.floodConns {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := dialRaw(ctx, d.TCPAddr())
				cancel()
				<-sem
				if err != nil {
					dialErr.Add(1)
					return
				}
				defer c.Close()
				t0 := time.Now()
				_ = c.SetReadDeadline(time.Now().Add(25 * time.Second))
				_, err = io.Copy(io.Discard, c) // the daemon's multistream header, then its close
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					open.Add(1)
					return
				}
				took := time.Since(t0)
				for {
					old := slowest.Load()
					if int64(took) <= old || slowest.CompareAndSwap(old, int64(took)) {
						break
					}
				}
			}()
		}
		wg.Wait()
		if n := open.Load(); n > 0 {
			t.Errorf("%d raw connections were still open after 25 s", n)
		}
		// A new honest peer still gets a channel.
		w := newWirePeer(t)
		if err := w.handshake(context.Background(), d.AddrInfo(), pingID); err != nil {
			t.Errorf("a new honest peer after the raw flood: %v", err)
		}
		w.close()
		return fmt.Sprintf("%d raw connections (%d dial errors), closed by the daemon within %s, all done in %s",
			sz.floodConns, dialErr.Load(), time.Duration(slowest.Load()).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	}, assertFdBound)
}

// assertFdBound checks that a flood added at most fdBound descriptors.
func assertFdBound(t *testing.T, r report) {
	if r.peak.fds > r.base.fds+fdBound {
		t.Errorf("flood: peak of %d fds, baseline %d: more than %d added", r.peak.fds, r.base.fds, fdBound)
	}
}
