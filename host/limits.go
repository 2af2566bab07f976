package host

import (
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/x/rate"

	"github.com/dnode-p2p/dnode/channel"
)

// ChannelTag is the connection manager protection tag the session
// manager puts on every peer with a channel, so that the connection
// manager trims only connections that are not channels, whatever the
// caps were raised to at run time (SetLimits).
const ChannelTag = "channel"

// handshakeSlack is how many connections beyond the configured slots the
// resource manager admits, for handshakes in flight and for libp2p tools
// (identify, ping) that connect without becoming channels.
const handshakeSlack = 32

// unlimitedStreams lifts a scope's stream limits, keeping its memory limit.
var unlimitedStreams = rcmgr.ResourceLimits{Streams: rcmgr.Unlimited, StreamsInbound: rcmgr.Unlimited, StreamsOutbound: rcmgr.Unlimited}

// limitConfig derives libp2p resource limits from dnode's slots: the
// system scope admits the inbound cap plus slack inbound, and every
// outbound and manual slot plus slack outbound; dnode's stream service
// has no stream cap of its own; the other scopes keep libp2p's
// auto-scaled defaults.
func limitConfig(inbound, outbound int) rcmgr.ConcreteLimitConfig {
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
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
	return partial.Build(scaling.AutoScale())
}

// newResourceManager builds libp2p's resource manager with limitConfig's
// limits. The per-address limits are libp2p's defaults unless perIP > 0
// raises them (see the package doc).
func newResourceManager(inbound, outbound, perIP int, metrics bool) (network.ResourceManager, error) {
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
	return rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limitConfig(inbound, outbound)), opts...)
}

// SetLimits resizes the host's limits while it runs: the hard inbound cap
// (InboundLimit) and the resource manager's system connection limits
// derived from inbound and outbound as at New. Live connections are
// never closed: lowering the cap below the live inbound count only
// refuses newcomers until enough have gone. The connection manager's
// watermarks stay those of New: it trims only connections that are not
// channels, since the session manager protects every channel's peer
// (tag ChannelTag). Safe for concurrent use.
func (h *Host) SetLimits(inbound, outbound int) {
	h.Conns.setLimit(inbound)
	lim := rcmgr.NewFixedLimiter(limitConfig(inbound, outbound)).GetSystemLimits()
	_ = h.Network().ResourceManager().ViewSystem(func(s network.ResourceScope) error {
		if l, ok := s.(rcmgr.ResourceScopeLimiter); ok {
			l.SetLimit(lim) // libp2p's own manager; another one keeps its limits
		}
		return nil
	})
}

// SystemConnLimits returns the resource manager's system scope limits on
// inbound and outbound connections (0, 0 for a manager without
// inspectable limits).
func (h *Host) SystemConnLimits() (inbound, outbound int) {
	_ = h.Network().ResourceManager().ViewSystem(func(s network.ResourceScope) error {
		if l, ok := s.(rcmgr.ResourceScopeLimiter); ok {
			inbound = l.Limit().GetConnLimit(network.DirInbound)
			outbound = l.Limit().GetConnLimit(network.DirOutbound)
		}
		return nil
	})
	return inbound, outbound
}
