package dnode

import (
	"log/slog"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// Option changes how New builds a Node.
type Option func(*options)

type options struct {
	logHandler slog.Handler
	logAttrs   []any
	clock      clock.Clock
	identity   crypto.PrivKey
	perIPLimit int
}

// WithLogHandler sends the node's logs to h (default: go-log) with attrs
// (key/value pairs, e.g. "node", "a") added to every record.
func WithLogHandler(h slog.Handler, attrs ...any) Option {
	return func(o *options) {
		o.logHandler = h
		o.logAttrs = attrs
	}
}

// WithLogAttrs adds attrs to every log record of the node.
func WithLogAttrs(attrs ...any) Option {
	return func(o *options) { o.logAttrs = append(o.logAttrs, attrs...) }
}

// WithClock sets the clock for timers and timestamps (default real time).
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithIdentity uses key instead of the key file in the datastore.
func WithIdentity(key crypto.PrivKey) Option { return func(o *options) { o.identity = key } }

// WithPerIPLimit raises libp2p's per-address connection limits to n and
// removes its per-address rate limit, for nodes that expect many peers
// behind one address (tests on network namespaces, seeds behind NAT).
func WithPerIPLimit(n int) Option { return func(o *options) { o.perIPLimit = n } }
