package host

import (
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/x/rate"

	"github.com/dnode-p2p/dnode/channel"
)

// handshakeSlack is how many connections beyond the configured slots the
// resource manager admits, for handshakes in flight and for libp2p tools
// (identify, ping) that connect without becoming channels.
const handshakeSlack = 32

// unlimitedStreams lifts a scope's stream limits, keeping its memory limit.
var unlimitedStreams = rcmgr.ResourceLimits{Streams: rcmgr.Unlimited, StreamsInbound: rcmgr.Unlimited, StreamsOutbound: rcmgr.Unlimited}

// newResourceManager derives libp2p resource limits from dnode's slots:
// the system scope admits the inbound cap plus slack inbound, and every
// outbound and manual slot plus slack outbound. The per-address limits are
// libp2p's defaults unless perIP > 0 raises them (see the package doc).
func newResourceManager(inbound, outbound, perIP int, metrics bool) (network.ResourceManager, error) {
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	concrete := scaling.AutoScale()
	partial := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			ConnsInbound:  rcmgr.LimitVal(inbound + handshakeSlack),
			ConnsOutbound: rcmgr.LimitVal(outbound + handshakeSlack),
			Conns:         rcmgr.LimitVal(inbound + outbound + 2*handshakeSlack),
		},
		// dnode's streams are attached to one service (channel.ScopeStream)
		// for accounting; its stream counts stay bounded by the protocol
		// and system limits, not by a second cap.
		Service: map[string]rcmgr.ResourceLimits{channel.ServiceName: unlimitedStreams},
	}
	var opts []rcmgr.Option
	if !metrics {
		// Otherwise rcmgr feeds Prometheus counters on every connection
		// and stream, even with libp2p's metrics off (about 5 % of a
		// seed's CPU when accepting connections).
		opts = append(opts, rcmgr.WithMetricsDisabled())
	}
	if perIP > 0 {
		opts = append(opts,
			rcmgr.WithLimitPerSubnet(
				[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: perIP}},
				[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: perIP}, {PrefixLength: 48, ConnCount: 8 * perIP}},
			),
			rcmgr.WithConnRateLimiters(&rate.Limiter{}), // no per-address rate limit
		)
	}
	return rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(concrete)), opts...)
}
