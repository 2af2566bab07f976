// Package socks5test is a SOCKS5 proxy (RFC 1928, CONNECT only, no
// authentication or user/password accepted without checking) for tests
// in one process: it records every CONNECT, resolves names only from its
// own table (never through DNS), and remembers the local address of every
// connection it opens upstream, so a test can tell that a connection a
// node received came through the proxy.
package socks5test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// handshakeTimeout bounds a client's SOCKS5 greeting and request.
const handshakeTimeout = 10 * time.Second

// Connect is one CONNECT request.
type Connect struct {
	Target   string // host:port as requested (a name stays a name)
	Domain   bool   // the request named a host (address type 3), not an IP
	Upstream string // local address of the connection to the target ("" if none)
	Err      string // why it failed, "" on success
}

// Proxy is a running SOCKS5 proxy. Its methods are safe for concurrent
// use. Close (also run at test cleanup) stops it and waits for every
// goroutine it started.
type Proxy struct {
	ln    net.Listener
	hosts map[string]string // name -> IP, the proxy's own "DNS"

	mu       sync.Mutex
	connects []Connect
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// Start starts a proxy on 127.0.0.1 that resolves the names in hosts
// (name -> IP literal) and no others.
func Start(t testing.TB, hosts map[string]string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, hosts: hosts, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns socks5://host:port.
func (p *Proxy) URL() string { return "socks5://" + p.Addr() }

// Connects returns a copy of the CONNECT requests so far.
func (p *Proxy) Connects() []Connect {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Connect(nil), p.connects...)
}

// Upstream reports whether addr (host:port) is the local address of a
// connection the proxy opened to a target.
func (p *Proxy) Upstream(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.connects {
		if c.Upstream == addr {
			return true
		}
	}
	return false
}

// Close stops the proxy, closes every connection and waits.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

// track registers c for Close; it reports false if the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) record(c Connect) {
	p.mu.Lock()
	p.connects = append(p.connects, c)
	p.mu.Unlock()
}

// serve runs one client: greeting, CONNECT, then relaying both ways.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer p.untrack(c)
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	target, domain, err := readRequest(c)
	if err != nil {
		if target != "" {
			p.record(Connect{Target: target, Domain: domain, Err: err.Error()})
		}
		return
	}
	host, port, _ := net.SplitHostPort(target)
	ip := host
	if domain {
		var ok bool
		if ip, ok = p.hosts[host]; !ok {
			p.record(Connect{Target: target, Domain: true, Err: "unknown host"})
			_, _ = c.Write(reply(4)) // host unreachable
			return
		}
	}
	up, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), handshakeTimeout)
	if err != nil {
		p.record(Connect{Target: target, Domain: domain, Err: err.Error()})
		_, _ = c.Write(reply(5)) // connection refused
		return
	}
	p.record(Connect{Target: target, Domain: domain, Upstream: up.LocalAddr().String()})
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	if _, err := c.Write(reply(0)); err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, c)
		up.Close()
		close(done)
	}()
	_, _ = io.Copy(c, up)
	c.Close()
	<-done
}

// reply is a SOCKS5 reply with code rep and a zero IPv4 bind address.
func reply(rep byte) []byte { return []byte{5, rep, 0, 1, 0, 0, 0, 0, 0, 0} }

// readRequest reads the greeting (answering "no authentication" or
// user/password, accepting any) and a CONNECT request. It returns the
// target even when a later check fails.
func readRequest(c net.Conn) (target string, domain bool, _ error) {
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return "", false, err
	}
	if hdr[0] != 5 || hdr[1] == 0 {
		return "", false, errors.New("not SOCKS5")
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return "", false, err
	}
	method := byte(0xff)
	for _, m := range methods {
		if m == 0 || (m == 2 && method == 0xff) {
			method = m
		}
	}
	if _, err := c.Write([]byte{5, method}); err != nil || method == 0xff {
		return "", false, errors.New("no acceptable method")
	}
	if method == 2 { // RFC 1929: ver, ulen, user, plen, pass
		var b [2]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return "", false, err
		}
		rest := make([]byte, int(b[1]))
		if _, err := io.ReadFull(c, rest); err != nil {
			return "", false, err
		}
		if _, err := io.ReadFull(c, b[:1]); err != nil {
			return "", false, err
		}
		rest = make([]byte, int(b[0]))
		if _, err := io.ReadFull(c, rest); err != nil {
			return "", false, err
		}
		if _, err := c.Write([]byte{1, 0}); err != nil {
			return "", false, err
		}
	}
	var req [4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		return "", false, err
	}
	var host string
	switch req[3] {
	case 1, 4:
		ip := make(net.IP, 4)
		if req[3] == 4 {
			ip = make(net.IP, 16)
		}
		if _, err := io.ReadFull(c, ip); err != nil {
			return "", false, err
		}
		host = ip.String()
	case 3:
		var n [1]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return "", false, err
		}
		name := make([]byte, n[0])
		if _, err := io.ReadFull(c, name); err != nil {
			return "", false, err
		}
		host, domain = string(name), true
	default:
		return "", false, fmt.Errorf("address type %d", req[3])
	}
	var port [2]byte
	if _, err := io.ReadFull(c, port[:]); err != nil {
		return "", false, err
	}
	target = net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:]))))
	if req[0] != 5 || req[1] != 1 {
		_, _ = c.Write(reply(7)) // command not supported
		return target, domain, fmt.Errorf("command %d", req[1])
	}
	return target, domain, nil
}
