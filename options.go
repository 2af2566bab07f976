package dnode

import (
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/prometheus/client_golang/prometheus"

	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/sessions"
)

// Option changes how New builds a Node.
type Option func(*options)

type options struct {
	logHandler slog.Handler
	logAttrs   []any
	identity   crypto.PrivKey
	perIPLimit int

	whitelistRecheck time.Duration
	host             *dhost.Host
	observer         sessions.Observer
	metricsReg       prometheus.Registerer
	libp2pOpts       []libp2p.Option
}

// WithLogHandler sends the node's logs to h (default: go-log) with attrs
// (key/value pairs, e.g. "node", "a") added to every record.
func WithLogHandler(h slog.Handler, attrs ...any) Option {
	return func(o *options) {
		o.logHandler = h
		o.logAttrs = append(o.logAttrs, attrs...) // keep earlier WithLogAttrs
	}
}

// WithLogAttrs adds attrs to every log record of the node.
func WithLogAttrs(attrs ...any) Option {
	return func(o *options) { o.logAttrs = append(o.logAttrs, attrs...) }
}

// WithIdentity uses key instead of the key file in the datastore.
func WithIdentity(key crypto.PrivKey) Option { return func(o *options) { o.identity = key } }

// WithPerIPLimit raises libp2p's per-address connection limits to n and
// removes its per-address rate limit, for nodes that expect many peers
// behind one address (tests on network namespaces, seeds behind NAT).
func WithPerIPLimit(n int) Option { return func(o *options) { o.perIPLimit = n } }

// WithWhitelistRecheck makes the refinery also re-probe the oldest
// whitelist host every d (DarkFi's Lilith seed daemon does it every 120 s).
func WithWhitelistRecheck(d time.Duration) Option {
	return func(o *options) { o.whitelistRecheck = d }
}

// WithHost runs the node on an existing host instead of building one; the
// node then neither binds listeners nor closes the host on Stop. Several
// nodes of different networks can share one host (a seed node serving
// many networks on one port).
func WithHost(h *dhost.Host) Option { return func(o *options) { o.host = h } }

// WithLibp2pOptions applies opts after dnode's own go-libp2p options when
// the node builds its host (ignored with WithHost). It is for tests and
// simulations, e.g. x/simlibp2p's QUICSimnet to run the node on a
// simulated network; listen addresses are then not pre-checked against
// real sockets.
func WithLibp2pOptions(opts ...libp2p.Option) Option {
	return func(o *options) { o.libp2pOpts = append(o.libp2pOpts, opts...) }
}

// WithObserver hands the node's measurements (messages and bytes per
// protocol, drops, handshake durations, bans) to o, for metrics.
func WithObserver(o sessions.Observer) Option { return func(opt *options) { opt.observer = o } }

// WithLibp2pMetrics registers go-libp2p's own metrics (swarm, identify,
// resource manager) with reg; without it libp2p's metrics are off.
func WithLibp2pMetrics(reg prometheus.Registerer) Option {
	return func(o *options) { o.metricsReg = reg }
}
