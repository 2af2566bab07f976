package memnet

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// newHost returns a libp2p host on n listening on addr (Noise and TLS,
// yamux: go-libp2p's defaults).
func newHost(t *testing.T, n *Network, addr string) host.Host {
	t.Helper()
	a := ma.StringCast(addr)
	ip, _ := a.ValueForProtocol(ma.P_IP4)
	h, err := libp2p.New(
		libp2p.NoTransports,
		libp2p.Transport(n.Constructor(netip.MustParseAddr(ip))),
		libp2p.ListenAddrs(a),
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHostsConnectAndStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(lat)
		a := newHost(t, n, "/ip4/11.0.0.1/tcp/8000")
		b := newHost(t, n, "/ip4/12.0.0.1/tcp/8000")
		defer a.Close()
		defer b.Close()
		b.SetStreamHandler("/echo", func(s network.Stream) {
			defer s.Close()
			io.Copy(s, s)
		})
		ctx := context.Background()
		if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
			t.Fatal(err)
		}
		s, err := a.NewStream(ctx, b.ID(), "/echo")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		s.CloseWrite()
		got, err := io.ReadAll(s)
		if err != nil || string(got) != "ping" {
			t.Fatalf("echo %q, %v", got, err)
		}
		s.Close()
		c := a.Network().ConnsToPeer(b.ID())[0]
		if want := ma.StringCast("/ip4/12.0.0.1/tcp/8000"); !c.RemoteMultiaddr().Equal(want) {
			t.Errorf("remote %s, want %s", c.RemoteMultiaddr(), want)
		}
		if got, _ := b.Network().ConnsToPeer(a.ID())[0].RemoteMultiaddr().ValueForProtocol(ma.P_IP4); got != "11.0.0.1" {
			t.Errorf("b sees a at IP %s", got)
		}

		// Nobody listens: the dial fails after a round trip, not a timeout.
		start := time.Now()
		other := newHost(t, n, "/ip4/13.0.0.1/tcp/8000")
		info := peer.AddrInfo{ID: other.ID(), Addrs: []ma.Multiaddr{ma.StringCast("/ip4/13.0.0.1/tcp/9999")}}
		other.Close()
		err = a.Connect(ctx, info)
		if err == nil || !errors.Is(err, ErrRefused) {
			t.Errorf("dial to a closed port: %v, want ErrRefused", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("refused dial took %s", d)
		}
	})
}

func TestTransportAddresses(t *testing.T) {
	tr, _ := New(lat).Constructor(clientIP)(nil, nil)
	for addr, want := range map[string]bool{
		"/ip4/1.2.3.4/tcp/80":     true,
		"/ip6/::1/tcp/80":         true,
		"/ip4/1.2.3.4/tcp/80/ws":  false,
		"/ip4/1.2.3.4/udp/80":     false,
		"/dns4/example.com/tcp/1": false,
	} {
		if got := tr.CanDial(ma.StringCast(addr)); got != want {
			t.Errorf("CanDial(%s) = %v, want %v", addr, got, want)
		}
	}
	if _, err := tr.Listen(ma.StringCast("/ip4/1.2.3.4/tcp/0")); !errors.Is(err, ErrBadAddress) {
		t.Errorf("listen on port 0: %v", err)
	}
	if _, err := tr.Listen(ma.StringCast("/ip4/1.2.3.4/udp/1")); !errors.Is(err, ErrBadAddress) {
		t.Errorf("listen on udp: %v", err)
	}
}
