// Package logging builds the per-subsystem slog loggers dnode's packages
// use. Loggers are values handed down from the node, never package
// globals, so that many nodes in one process (integration tests, the seed
// serving several networks) can be told apart by their attributes.
//
// The default handler is go-log/v2's slog bridge, so GOLOG_LOG_LEVEL and
// golog.SetLogLevel("dnode/channel", "debug") control dnode's subsystems
// exactly as they control go-libp2p's.
package logging

import (
	"log/slog"

	golog "github.com/ipfs/go-log/v2"
)

// Prefix is prepended to every subsystem name ("dnode/channel", ...).
const Prefix = "dnode/"

// Factory makes named loggers. The zero value logs through go-log.
// A Factory is immutable and safe for concurrent use.
type Factory struct {
	handler slog.Handler
	attrs   []any
}

// New returns a Factory that writes to h (nil means go-log's bridge) and
// adds attrs (key/value pairs) to every record.
func New(h slog.Handler, attrs ...any) Factory {
	return Factory{handler: h, attrs: attrs}
}

// With returns a Factory that also adds attrs to every record.
func (f Factory) With(attrs ...any) Factory {
	all := make([]any, 0, len(f.attrs)+len(attrs))
	all = append(all, f.attrs...)
	all = append(all, attrs...)
	return Factory{handler: f.handler, attrs: all}
}

// Logger returns the logger of one subsystem, named Prefix+sub.
func (f Factory) Logger(sub string) *slog.Logger {
	h := f.handler
	if h == nil {
		h = golog.SlogHandler()
	}
	// The subsystem attribute must come first: go-log's bridge fixes the
	// subsystem (and its level) on the first WithAttrs that carries it.
	h = h.WithAttrs([]slog.Attr{slog.String("logger", Prefix+sub)})
	return slog.New(stringify{h}).With(f.attrs...)
}

// Discard returns a Factory whose loggers drop everything.
func Discard() Factory { return New(slog.DiscardHandler) }
