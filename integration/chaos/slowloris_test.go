package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/dnode-p2p/dnode/protocols/pb"
)

// trickle is one slowloris connection: it writes the next of chunks (the
// last one repeated forever) every interval on c until the peer closes c,
// and returns how long that took; it fails when the peer keeps c open
// past within.
func trickle(c net.Conn, chunks [][]byte, every, within time.Duration) (time.Duration, error) {
	defer c.Close()
	start := time.Now()
	buf := make([]byte, 4096)
	for i := 0; ; i++ {
		if time.Since(start) > within {
			return 0, fmt.Errorf("still open after %s", within)
		}
		chunk := chunks[min(i, len(chunks)-1)]
		if _, err := c.Write(chunk); err != nil {
			return time.Since(start), nil // closed by the peer
		}
		// Read what the peer says until the next chunk is due; an error
		// other than that timeout is the peer's close.
		_ = c.SetReadDeadline(time.Now().Add(every))
		for {
			_, err := c.Read(buf)
			if err == nil {
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			return time.Since(start), nil
		}
	}
}

// bytesOf splits s into one chunk per byte.
func bytesOf(s string) [][]byte {
	out := make([][]byte, len(s))
	for i := range s {
		out[i] = []byte{s[i]}
	}
	return out
}

// slowResult collects the close times of a group of slow connections.
type slowResult struct {
	mu      sync.Mutex
	slowest time.Duration
	errs    []error
}

func (r *slowResult) add(d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	r.slowest = max(r.slowest, d)
}

func (r *slowResult) check(t *testing.T, what string) time.Duration {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Errorf("%s: %d connections failed, first: %v", what, len(r.errs), r.errs[0])
	}
	return r.slowest
}

// TestDaemonSlowloris: connections and streams that trickle their bytes.
//   - raw TCP trickling libp2p's multistream header: closed by libp2p's
//     upgrader after its accept timeout (15 s);
//   - secured connections trickling a Version on the version stream:
//     closed when the handshake timeout (2 s here) runs out;
//   - channels trickling a ping frame: closed when the frame does not
//     complete within the handshake timeout;
//   - HTTP requests to the RPC trickling their headers (the cookie among
//     them): closed by the server's header timeout (10 s).
//
// None of them is a violation: nobody is banned. Meanwhile the honest
// peer's pings and an RPC client keep being answered.
func TestDaemonSlowloris(t *testing.T) {
	fullOnly(t)
	sz := sizes()
	runAttack(t, "slowloris", daemonConfig{inbound: 64}, func(t *testing.T, d *daemon) string {
		var wg sync.WaitGroup
		var conn, version, pingFrame, rpcSlow slowResult
		stopRPC := make(chan struct{})
		rpcDone := make(chan struct{})
		var rpcRTTs []time.Duration
		var rpcErrs []error
		go func() { // the honest RPC client
			defer close(rpcDone)
			for {
				t0 := time.Now()
				if _, err := d.info(); err != nil {
					rpcErrs = append(rpcErrs, err)
				} else {
					rpcRTTs = append(rpcRTTs, time.Since(t0))
				}
				select {
				case <-stopRPC:
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()

		// Streams first: raw TCP connections that never finish libp2p's
		// handshake hold the resource manager's inbound connections
		// (inbound_connections + 32) until the accept timeout, so that no
		// new connection gets in meanwhile (see docs/security.md).
		var connected sync.WaitGroup
		streams := max(2, sz.slowConns/8)
		version1 := frame(&pb.Version{AppName: appName, AppVersion: appVersion, Timestamp: uint64(time.Now().Unix())})
		connected.Add(streams)
		for i := range streams {
			wg.Go(func() {
				afterHandshake := i%2 == 1
				res := &version
				if afterHandshake {
					res = &pingFrame
				}
				res.add(slowStream(d, afterHandshake, version1, connected.Done))
			})
		}
		connected.Wait()
		// Raw TCP, libp2p's multistream header byte by byte.
		for range sz.slowConns {
			wg.Go(func() {
				c, err := dialRaw(context.Background(), d.TCPAddr())
				if err != nil {
					conn.add(0, err)
					return
				}
				conn.add(trickle(c, bytesOf("\x13/multistream/1.0.0\n"), 500*time.Millisecond, 25*time.Second))
			})
		}
		// The RPC: a request's header lines, one every 500 ms.
		header := []string{"POST / HTTP/1.1\r\n", "Host: 127.0.0.1\r\n", "Authorization: Bearer " + d.cookie() + "\r\n",
			"Content-Type: application/json\r\n", "X-Slow: 1\r\n"}
		var lines [][]byte
		for _, l := range header {
			lines = append(lines, []byte(l))
		}
		for range sz.slowConns {
			wg.Go(func() {
				c, err := dialRaw(context.Background(), d.rpcAddr())
				if err != nil {
					rpcSlow.add(0, err)
					return
				}
				rpcSlow.add(trickle(c, lines, 500*time.Millisecond, 20*time.Second))
			})
		}
		wg.Wait()
		close(stopRPC)
		<-rpcDone
		if len(rpcErrs) > 0 {
			t.Errorf("honest RPC client: %d of %d calls failed, first: %v", len(rpcErrs), len(rpcErrs)+len(rpcRTTs), rpcErrs[0])
		}
		return fmt.Sprintf("%d raw TCP closed within %s; %d RPC header trickles closed within %s; %d version trickles closed within %s; "+
			"%d ping-frame trickles closed within %s; honest RPC p99 %s over %d calls",
			sz.slowConns, conn.check(t, "raw TCP").Round(time.Millisecond),
			sz.slowConns, rpcSlow.check(t, "RPC").Round(time.Millisecond),
			(streams+1)/2, version.check(t, "version").Round(time.Millisecond),
			streams/2, pingFrame.check(t, "ping frame").Round(time.Millisecond),
			percentile(rpcRTTs, 99).Round(100*time.Microsecond), len(rpcRTTs))
	}, func(t *testing.T, r report) {
		if r.bans != 0 {
			t.Errorf("slowloris: %d bans, want none (a timeout is not a violation)", r.bans)
		}
	})
}

// slowStream opens a connection from a fresh identity and trickles data
// (a Version frame) on the version stream or, after a handshake, a ping
// frame on the ping stream, one byte every 300 ms. It calls connected
// once, when its connection is up or failed. It returns how long the
// daemon took to close the connection.
func slowStream(d *daemon, afterHandshake bool, version []byte, connected func()) (time.Duration, error) {
	var once sync.Once
	defer once.Do(connected)
	w, err := makeWirePeer()
	if err != nil {
		return 0, err
	}
	defer w.close()
	w.silent.Store(true) // only the trickle writes on our ping stream
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ai := d.AddrInfo()
	id, data := protocol.ID(versionID), version
	if afterHandshake {
		if err := w.handshake(ctx, ai, pingID); err != nil {
			return 0, err
		}
		id, data = pingID, frame(&pb.PingMessage{Body: &pb.PingMessage_Ping{Ping: &pb.Ping{Nonce: 1 << 60}}})
	} else if err := w.h.Connect(ctx, ai); err != nil {
		return 0, err
	}
	s, err := w.h.NewStream(ctx, ai.ID, id)
	if err != nil {
		return 0, err
	}
	defer s.Reset()
	once.Do(connected)
	start := time.Now()
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for i := 0; len(w.h.Network().ConnsToPeer(ai.ID)) > 0; i++ {
		if time.Since(start) > 10*time.Second {
			return 0, errors.New("still open after 10 s")
		}
		if i < len(data)-1 { // never the last byte
			_, _ = s.Write(data[i : i+1])
		}
		<-tick.C
	}
	return time.Since(start), nil
}
