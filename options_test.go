package dnode

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/dnode-p2p/dnode/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }

// Log attributes accumulate whatever order WithLogHandler and
// WithLogAttrs come in; WithLogHandler used to drop earlier ones.
func TestLogAttrsAccumulate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want []any
	}{
		{"handler then attrs", []Option{WithLogHandler(slog.DiscardHandler, "a", 1), WithLogAttrs("b", 2)}, []any{"a", 1, "b", 2}},
		{"attrs then handler", []Option{WithLogAttrs("b", 2), WithLogHandler(slog.DiscardHandler, "a", 1)}, []any{"b", 2, "a", 1}},
		{"attrs only", []Option{WithLogAttrs("b", 2)}, []any{"b", 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o options
			for _, opt := range tc.opts {
				opt(&o)
			}
			if !slices.Equal(o.logAttrs, tc.want) {
				t.Fatalf("attrs %v, want %v", o.logAttrs, tc.want)
			}
		})
	}
}
