package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/relay"
	"github.com/dnode-p2p/dnode/rpc"
)

// TestPublishAndRelayStats drives `dnode publish` and `dnode relay
// stats` against a node with a relay.
func TestPublishAndRelayStats(t *testing.T) {
	checkLeaks(t)
	n, err := dnode.New(testNodeSettings(t), dnode.WithLogHandler(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(n, relay.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := r.Join("news")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tp.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); _ = n.Stop() })
	srv, err := rpc.New(rpc.Config{Node: n, Relay: r, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	addr := srv.Addr()

	res := runCLI(t, "publish", "--rpc", addr, "--topic", "news", "hello world")
	if res.code != 0 || len(strings.TrimSpace(res.stdout)) != 64 {
		t.Fatalf("publish: %+v", res)
	}
	m, err := sub.Next(t.Context())
	if err != nil || string(m.Data) != "hello world" || m.ID.String() != strings.TrimSpace(res.stdout) {
		t.Fatalf("published %v, %v", m, err)
	}
	file := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(file, []byte{0, 1, 2, 255}, 0o600); err != nil {
		t.Fatal(err)
	}
	res = runCLI(t, "publish", "--rpc", addr, "--topic", "news", "--file", file, "--json")
	var pub rpc.Published
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &pub) != nil || len(pub.ID) != 64 {
		t.Fatalf("publish --file --json: %+v", res)
	}
	if m, err := sub.Next(t.Context()); err != nil || string(m.Data) != "\x00\x01\x02\xff" {
		t.Fatalf("file published as %v, %v", m, err)
	}
	for _, bad := range [][]string{
		{"publish", "--rpc", addr, "text"},                                      // no topic
		{"publish", "--rpc", addr, "--topic", "news"},                           // no message
		{"publish", "--rpc", addr, "--topic", "news", "--file", file, "text"},   // both
		{"publish", "--rpc", addr, "--topic", "news", "--file", file + ".nope"}, // no such file
	} {
		if res := runCLI(t, bad...); res.code != exitUsage {
			t.Errorf("%v: exit %d (%s), want a usage error", bad, res.code, res.stderr)
		}
	}
	if res := runCLI(t, "publish", "--rpc", addr, "--topic", "", "x"); res.code == 0 {
		t.Errorf("empty topic accepted: %+v", res)
	}

	res = runCLI(t, "relay", "stats", "--rpc", addr)
	if res.code != 0 || !strings.Contains(res.stdout, "Published") || !strings.Contains(res.stdout, "2") {
		t.Fatalf("relay stats: %+v", res)
	}
	res = runCLI(t, "relay", "stats", "--rpc", addr, "--json")
	var st relay.Stats
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &st) != nil || st.Published != 2 {
		t.Fatalf("relay stats --json: %+v", res)
	}
}
