package devnet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The devnet's web view serves its page without the token, and the graph
// only with it: the seed and every node, each node's slots, and links
// between devnet nodes only, once per channel.
func TestDevnetWeb(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := Start(ctx, Config{Nodes: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.WaitSlots(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	w, err := d.ServeWeb(ctx, WebConfig{Listen: "127.0.0.1:0", Token: "tok",
		NodeURL: func(i int) string { return fmt.Sprintf("http://node%d/", i+1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fetch := func(path, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.Addr()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Close = true // no idle connection left for the leak check
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	if status, body := fetch("/", ""); status != http.StatusOK || !strings.Contains(body, "/web/devnet.js") {
		t.Errorf("GET /: %d %.80q", status, body)
	}
	for _, tok := range []string{"", "wrong"} {
		if status, _ := fetch("/graph", tok); status != http.StatusUnauthorized {
			t.Errorf("GET /graph with token %q: %d, want 401", tok, status)
		}
	}
	status, body := fetch("/graph", "tok")
	if status != http.StatusOK {
		t.Fatalf("GET /graph: %d %s", status, body)
	}
	var g Graph
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 5 || !g.Nodes[0].Seed || g.Nodes[0].Name != "seed" {
		t.Fatalf("nodes = %+v, want the seed and 4 nodes", g.Nodes)
	}
	ids := map[string]bool{}
	for i, n := range g.Nodes[1:] {
		ids[n.PeerID] = true
		if n.PeerID != d.Nodes[i].ID().String() || n.Slots != 3 || n.Filled != 3 || n.Web != fmt.Sprintf("http://node%d/", i+1) {
			t.Errorf("node %d = %+v", i+1, n)
		}
	}
	ids[g.Nodes[0].PeerID] = true
	pairs := map[[2]string]bool{}
	for _, l := range g.Links {
		if !ids[l.From] || !ids[l.To] || l.From == l.To {
			t.Errorf("link %+v names a peer outside the devnet", l)
		}
		pair := [2]string{min(l.From, l.To), max(l.From, l.To)}
		if pairs[pair] {
			t.Errorf("link %+v twice", l)
		}
		pairs[pair] = true
	}
	// 4 nodes with 3 slots each, all filled: 12 slot ends, and a channel
	// fills at most two of them.
	if len(g.Links) < 6 {
		t.Errorf("%d links, want at least the 6 pairs of 4 nodes: %+v", len(g.Links), g.Links)
	}
	if _, err := d.ServeWeb(ctx, WebConfig{Listen: "0.0.0.0:0"}); err == nil {
		t.Error("ServeWeb on 0.0.0.0: no error")
	}
}
