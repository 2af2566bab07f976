package sessions

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/settings"
)

func TestConnTransport(t *testing.T) {
	t.Parallel()
	const onion = "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:1234"
	clear := settings.Net{}
	proxied := settings.Net{Proxy: "socks5://127.0.0.1:9050"}
	service := settings.Net{TorControl: "127.0.0.1:9051"}
	in, out := network.DirInbound, network.DirOutbound
	cases := []struct {
		name   string
		net    *settings.Net
		dir    network.Direction
		remote string
		want   string
	}{
		{"clearnet tcp out", &clear, out, "/ip4/1.2.3.4/tcp/1", settings.ProfileTCP},
		{"clearnet quic out", &clear, out, "/ip4/1.2.3.4/udp/1/quic-v1", settings.ProfileQUIC},
		{"clearnet ws in", &clear, in, "/ip4/1.2.3.4/tcp/1/ws", settings.ProfileWS},
		{"clearnet loopback in", &clear, in, "/ip4/127.0.0.1/tcp/1", settings.ProfileTCP},
		{"onion addr", &clear, out, onion, settings.ProfileTor},
		{"proxied out", &proxied, out, "/ip4/1.2.3.4/tcp/1", settings.ProfileTor},
		{"proxied, direct inbound", &proxied, in, "/ip4/1.2.3.4/tcp/1", settings.ProfileTCP},
		{"service, tor forwards from loopback", &service, in, "/ip4/127.0.0.1/tcp/1", settings.ProfileTor},
		{"service, ipv6 loopback", &service, in, "/ip6/::1/tcp/1", settings.ProfileTor},
		{"service, clearnet inbound", &service, in, "/ip4/1.2.3.4/tcp/1", settings.ProfileTCP},
		{"service, direct outbound", &service, out, "/ip4/127.0.0.1/tcp/1", settings.ProfileTCP},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ConnTransport(c.net, c.dir, ma.StringCast(c.remote)); got != c.want {
				t.Errorf("ConnTransport(%s, %s) = %q, want %q", c.dir, c.remote, got, c.want)
			}
		})
	}
}
