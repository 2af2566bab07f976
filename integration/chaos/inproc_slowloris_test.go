package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/relay"
	"github.com/dnode-p2p/dnode/rpc"
)

// trickleEvery is the slowloris pace: one byte per interval.
const trickleEvery = 200 * time.Millisecond

// rpcReadHeaderTimeout is the RPC server's bound on request headers
// (rpc's readHeaderTimeout).
const rpcReadHeaderTimeout = 10 * time.Second

// trickle writes msg to c one byte every trickleEvery until the peer
// closes c or within passes. It reports how long c stayed open, and
// whether the peer closed it (false: still open at the deadline).
func trickle(c net.Conn, msg []byte, within time.Duration) (time.Duration, bool) {
	began := time.Now()
	deadline := began.Add(within)
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = c.SetReadDeadline(deadline)
		_, _ = io.Copy(io.Discard, c) // returns when the peer closes c, or at the deadline
	}()
	tick := time.NewTicker(trickleEvery)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-closed:
			return time.Since(began), time.Now().Before(deadline)
		case <-tick.C:
		}
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(msg[i%len(msg) : i%len(msg)+1]); err != nil {
			c.Close()
			<-closed
			return time.Since(began), time.Now().Before(deadline)
		}
	}
}

// slowResult collects what became of one kind of slowloris connections.
type slowResult struct {
	name     string
	closed   atomic.Int64
	open     atomic.Int64
	mu       sync.Mutex
	longest  time.Duration
	dialFail atomic.Int64
}

func (r *slowResult) add(d time.Duration, closedByPeer bool) {
	if closedByPeer {
		r.closed.Add(1)
	} else {
		r.open.Add(1)
	}
	r.mu.Lock()
	r.longest = max(r.longest, d)
	r.mu.Unlock()
}

func (r *slowResult) String() string {
	return fmt.Sprintf("%s: %d closed by the victim (longest held %s), %d still open at the deadline, %d refused at dial",
		r.name, r.closed.Load(), r.longest.Round(100*time.Millisecond), r.open.Load(), r.dialFail.Load())
}

// rpcCall makes one authenticated JSON-RPC call and returns its latency.
func rpcCall(c *http.Client, addr, token string) (time.Duration, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/",
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"p2p.get_info","params":[]}`))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"result"`) {
		return 0, fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
	}
	return time.Since(began), nil
}

// Slowloris on the handshakes and on the RPC: connections that trickle
// one byte every 200 ms (multistream and noise bytes on the P2P port; a
// Version frame on a dnode version stream; HTTP headers on the RPC port,
// which needs its cookie token). The victim closes each within its bound
// (libp2p's accept timeout, the channel handshake timeout, the RPC's
// header timeout); none of it is a protocol violation, so no ban. Meanwhile
// the honest prober's pings and an authenticated RPC client's calls keep
// answering, and resources return near baseline.
func TestInProcessSlowloris(t *testing.T) {
	sz := sizes()
	s := victimSettings(t, sz.slowloris+8)
	v := startVictim(t, s, relay.Config{})
	token, err := rpc.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rpc.New(rpc.Config{Node: v.node, Relay: v.relay, Listen: "127.0.0.1:0", AuthToken: token})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if _, err := rpcCall(client, srv.Addr(), token); err != nil {
		t.Fatalf("honest RPC call before the attack: %v", err)
	}
	p := newProber(t, v.node)
	m := startMeter(t)
	hsTimeout := s.Net.Profile("tcp").ChannelHandshakeTimeout
	p2p := tcpAddr(t, v.node)

	secure := &slowResult{name: "security handshake (multistream+noise bytes)"}
	ver := &slowResult{name: "version handshake (a Version frame)"}
	hdr := &slowResult{name: "RPC headers"}
	rpcStats := &rttStats{}
	cr := newCrowd(t)
	var attackers []*attacker
	for range sz.slowloris {
		attackers = append(attackers, newAttacker(t, cr))
	}
	st := p.during(func() {
		stop := make(chan struct{})
		rpcDone := make(chan struct{})
		go func() { // the honest RPC client
			defer close(rpcDone)
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				if d, err := rpcCall(client, srv.Addr(), token); err != nil {
					rpcStats.failed++
					t.Logf("honest RPC call: %v", err)
				} else {
					rpcStats.samples = append(rpcStats.samples, d)
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		var wg sync.WaitGroup
		// A noise message announced as 65535 bytes, then trickled.
		msHello := []byte("\x13/multistream/1.0.0\n\x07/noise\n\xff\xff" + strings.Repeat("\x00", 4096))
		httpHead := []byte("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\nX-Slow: " + strings.Repeat("a", 4096))
		ver0 := frameOf(targets()[0].valid)
		for i := range sz.slowloris {
			wg.Go(func() {
				c, err := net.DialTimeout("tcp", p2p, 5*time.Second)
				if err != nil {
					secure.dialFail.Add(1)
					return
				}
				defer c.Close()
				secure.add(trickle(c, msHello, libp2pAcceptTimeout+10*time.Second))
			})
			wg.Go(func() {
				c, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
				if err != nil {
					hdr.dialFail.Add(1)
					return
				}
				defer c.Close()
				hdr.add(trickle(c, httpHead, rpcReadHeaderTimeout+10*time.Second))
			})
			a := attackers[i]
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), hsTimeout+10*time.Second)
				defer cancel()
				if err := connect(ctx, a.h, v.node); err != nil {
					ver.dialFail.Add(1)
					return
				}
				st, err := a.h.NewStream(ctx, v.node.ID(), versionID)
				if err != nil {
					ver.dialFail.Add(1)
					return
				}
				defer st.Reset()
				began := time.Now()
				tick := time.NewTicker(trickleEvery)
				defer tick.Stop()
				for j := 0; ; j++ {
					if len(a.h.Network().ConnsToPeer(v.node.ID())) == 0 {
						ver.add(time.Since(began), true)
						return
					}
					select {
					case <-ctx.Done():
						ver.add(time.Since(began), false)
						return
					case <-tick.C:
					}
					_ = st.SetWriteDeadline(time.Now().Add(time.Second))
					_, _ = st.Write(ver0[j%len(ver0) : j%len(ver0)+1])
				}
			})
		}
		wg.Wait()
		close(stop)
		<-rpcDone
	})
	for _, r := range []*slowResult{secure, ver, hdr} {
		t.Log(r)
		if r.open.Load() > 0 {
			t.Errorf("%s", r)
		}
	}
	if rpcStats.failed > 0 || len(rpcStats.samples) == 0 {
		t.Errorf("honest RPC calls: %v", rpcStats)
	}
	p.check(t, st)
	for i, a := range attackers {
		if nodeinternal.Host(v.node).Gater.Banned(a.h.ID(), nil) {
			t.Errorf("slow version handshake %d was banned; a slow peer is no violation", i)
		}
	}
	attackers = nil
	cr.close()
	if err := srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Logf("rpc close: %v", err)
	}
	pstore := peerstoreSize(v)
	p.close()
	back := m.settle(t, sz.recover)
	m.report(t, fmt.Sprintf("slowloris (%d connections of each kind)", sz.slowloris), back, st,
		fmt.Sprintf("; victim peerstore %d peers; honest RPC calls: %v; %v; %v; %v", pstore, rpcStats, secure, ver, hdr))
}
