package metrics

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/relay"
)

// The relay's counters are scraped as dnode_relay_*, with a
// dnode_relay_dropped_total series for every drop reason.
func TestRelayMetrics(t *testing.T) {
	t.Parallel()
	n, err := dnode.New(testSettings(t), dnode.WithLogHandler(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(n, relay.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); _ = n.Stop() })
	if _, err := r.Publish(context.Background(), "news", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Publish(context.Background(), "news", []byte("two")); err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry()
	RegisterRelay(reg, r)
	rec := httptest.NewRecorder()
	Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		"dnode_relay_published_total 2",
		"dnode_relay_received_total 0",
		"dnode_relay_duplicates_total 0",
		"dnode_relay_history_messages 2",
		"dnode_relay_links 0",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, reason := range relay.DropReasons() {
		if !strings.Contains(body, `dnode_relay_dropped_total{reason="`+reason+`"} 0`) {
			t.Errorf("metrics lack the %s drop series", reason)
		}
	}
}
