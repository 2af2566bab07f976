package host

import (
	"context"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func TestProxyDialable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		addr, target string // target "" means not dialable through a proxy
	}{
		{"/ip4/1.2.3.4/tcp/5", "1.2.3.4:5"},
		{"/ip6/2001:db8::1/tcp/5", "[2001:db8::1]:5"},
		{"/dns4/seed.example/tcp/26661", "seed.example:26661"},
		{"/dns/x.example/tcp/1", "x.example:1"},
		{"/dns6/x.example/tcp/1", "x.example:1"},
		{"/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:26661", "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd.onion:26661"},
		{"/ip4/1.2.3.4/udp/5/quic-v1", ""},
		{"/ip4/1.2.3.4/tcp/5/ws", ""},
		{"/dnsaddr/bootstrap.example", ""},
		{"/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:26661/ws", ""},
	} {
		a := ma.StringCast(c.addr)
		got, err := socksTarget(a)
		if c.target == "" {
			if err == nil || ProxyDialable(a) {
				t.Errorf("%s: target %q, want not dialable", c.addr, got)
			}
			continue
		}
		if err != nil || got != c.target || !ProxyDialable(a) {
			t.Errorf("%s: target %q, %v; want %q", c.addr, got, err, c.target)
		}
	}
}

func newTestHost(t *testing.T, cfg Config) *Host {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Identity, cfg.InboundLimit, cfg.OutboundLimit = key, 4, 4
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// With a proxy that does not answer, no dial reaches the peer directly:
// not its TCP, QUIC or WebSocket address, not its DNS name (which the
// swarm must not resolve either).
func TestProxyDownMeansNoDirectDial(t *testing.T) {
	t.Parallel()
	b := newTestHost(t, Config{Listen: []ma.Multiaddr{
		ma.StringCast("/ip4/127.0.0.1/tcp/0"),
		ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1"),
		ma.StringCast("/ip4/127.0.0.1/tcp/0/ws"),
	}})
	inbound := make(chan ma.Multiaddr, 16)
	b.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		inbound <- c.RemoteMultiaddr()
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	a := newTestHost(t, Config{Proxy: &url.URL{Scheme: "socks5", Host: dead}})

	port := ""
	for _, la := range b.Addrs() {
		if len(la) == 2 && la[1].Code() == ma.P_TCP {
			port = la[1].Value()
		}
	}
	if port == "" {
		t.Fatalf("no plain TCP address in %v", b.Addrs())
	}
	addrs := append(b.Addrs(), ma.StringCast("/dns4/localhost/tcp/"+port))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: addrs}); err == nil {
		t.Fatal("connected although the proxy is down")
	}
	select {
	case ra := <-inbound:
		t.Fatalf("peer got a direct connection from %s", ra)
	default:
	}
	if n := a.Proxy.RefusedLookups.Load(); n != 0 {
		t.Errorf("%d local lookups asked for", n)
	}
	if n := a.Proxy.Dials.Load(); n != 2 {
		t.Errorf("%d dials handed to the proxy, want 2 (the TCP address and the name)", n)
	}
}
