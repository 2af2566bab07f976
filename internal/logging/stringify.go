package logging

import (
	"context"
	"fmt"
	"log/slog"
)

// stringify renders errors and fmt.Stringers as strings before they reach
// the wrapped handler: go-log's bridge would otherwise encode them by
// reflection (an error as {}, a session kind as its number).
type stringify struct{ next slog.Handler }

func (h stringify) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h stringify) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(toString(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h stringify) WithAttrs(attrs []slog.Attr) slog.Handler {
	conv := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		conv[i] = toString(a)
	}
	return stringify{h.next.WithAttrs(conv)}
}

func (h stringify) WithGroup(name string) slog.Handler { return stringify{h.next.WithGroup(name)} }

func toString(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() != slog.KindAny {
		return slog.Attr{Key: a.Key, Value: v}
	}
	switch x := v.Any().(type) {
	case error:
		return slog.String(a.Key, x.Error())
	case fmt.Stringer:
		return slog.String(a.Key, x.String())
	}
	return slog.Attr{Key: a.Key, Value: v}
}
