package rpc

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/dnode-p2p/dnode/internal/nodeinternal"
)

// The runtime settings over RPC: each change is echoed and shows in
// p2p.get_info and p2p.get_seeds at once, and reaches the node's sessions
// and host.
func TestRuntimeSettings(t *testing.T) {
	a := startNode(t, testSettings(t))
	b := startNode(t, testSettings(t))
	srv := startServer(t, Config{Node: a})
	c := client(t, srv, "")
	ctx := t.Context()

	var slots Slots
	if err := c.Call(ctx, "p2p.set_outbound_slots", &slots, 3); err != nil ||
		slots.OutboundConnections == nil || *slots.OutboundConnections != 3 || slots.InboundConnections != nil {
		t.Fatalf("set_outbound_slots = %+v, %v", slots, err)
	}
	slots = Slots{}
	if err := c.Call(ctx, "p2p.set_inbound_limit", &slots, 5); err != nil ||
		slots.InboundConnections == nil || *slots.InboundConnections != 5 || slots.OutboundConnections != nil {
		t.Fatalf("set_inbound_limit = %+v, %v", slots, err)
	}
	var info Info
	if err := c.Call(ctx, "p2p.get_info", &info); err != nil {
		t.Fatal(err)
	}
	if info.OutboundConnections != 3 || len(info.OutboundSlots) != 3 || info.InboundConnections != 5 {
		t.Errorf("get_info: outbound_connections %d, outbound_slots %v, inbound_connections %d; want 3, 3 slots, 5",
			info.OutboundConnections, info.OutboundSlots, info.InboundConnections)
	}
	if got := nodeinternal.Host(a).Conns.Limit(); got != 5 {
		t.Errorf("host inbound cap = %d, want 5", got)
	}
	if in, _ := nodeinternal.Host(a).SystemConnLimits(); in != 5+32 {
		t.Errorf("resource manager inbound limit = %d, want 37", in)
	}

	seed := b.Addrs()[0].String()
	var seeds []string
	if err := c.Call(ctx, "p2p.get_seeds", &seeds); err != nil || seeds == nil || len(seeds) != 0 {
		t.Fatalf("get_seeds = %v, %v; want []", seeds, err)
	}
	var change SeedChange
	if err := c.Call(ctx, "p2p.add_seed", &change, seed); err != nil || change.Added != seed {
		t.Fatalf("add_seed = %+v, %v", change, err)
	}
	if err := c.Call(ctx, "p2p.get_seeds", &seeds); err != nil || !slices.Equal(seeds, []string{seed}) {
		t.Fatalf("get_seeds = %v, %v; want [%s]", seeds, err, seed)
	}
	if err := c.Call(ctx, "p2p.get_info", &info); err != nil || !slices.Equal(info.Seeds, []string{seed}) {
		t.Fatalf("get_info seeds = %v, %v", info.Seeds, err)
	}
	// The node refuses a second add and a second remove: server errors.
	var rerr *Error
	if err := c.Call(ctx, "p2p.add_seed", nil, seed); !errors.As(err, &rerr) || rerr.Code != CodeServerError ||
		!strings.Contains(rerr.Message, "already") {
		t.Errorf("second add_seed: %v", err)
	}
	// A seed is no manual peer.
	if err := c.Call(ctx, "p2p.add_peer", nil, seed); !errors.As(err, &rerr) || !strings.Contains(rerr.Message, "seed") {
		t.Errorf("add_peer of a seed: %v", err)
	}
	change = SeedChange{}
	if err := c.Call(ctx, "p2p.remove_seed", &change, seed); err != nil || change.Removed != seed {
		t.Fatalf("remove_seed = %+v, %v", change, err)
	}
	if err := c.Call(ctx, "p2p.remove_seed", nil, seed); !errors.As(err, &rerr) || rerr.Code != CodeServerError ||
		!strings.Contains(rerr.Message, "not a seed") {
		t.Errorf("second remove_seed: %v", err)
	}
	if err := c.Call(ctx, "p2p.get_info", &info); err != nil || info.Seeds == nil || len(info.Seeds) != 0 {
		t.Fatalf("get_info seeds after remove = %v, %v; want []", info.Seeds, err)
	}
	// Params by name.
	status, body := post(t, srv, `{"jsonrpc":"2.0","method":"p2p.set_outbound_slots","params":{"n":1},"id":1}`)
	if status != http.StatusOK || !strings.Contains(body, `"result":{"outbound_connections":1}`) {
		t.Errorf("set_outbound_slots by name: %d %s", status, body)
	}
}

// Bad params of the runtime methods are invalid params errors that say
// what is wrong, and change nothing.
func TestRuntimeSettingsBadParams(t *testing.T) {
	s := testSettings(t)
	n := startNode(t, s)
	srv := startServer(t, Config{Node: n})
	own := "/ip4/127.0.0.1/tcp/1/p2p/" + n.ID().String()
	req := func(method, params string) string {
		return `{"jsonrpc":"2.0","method":"` + method + `","params":` + params + `,"id":1}`
	}
	for _, tc := range []struct{ name, body, msg string }{
		{"no count", req("p2p.set_outbound_slots", `[]`), "takes 1 param, got 0"},
		{"two counts", req("p2p.set_inbound_limit", `[1,2]`), "takes 1 param, got 2"},
		{"count a string", req("p2p.set_outbound_slots", `["4"]`), "params[0] (n) must be a non-negative integer"},
		{"count negative", req("p2p.set_outbound_slots", `[-1]`), "must be a non-negative integer"},
		{"count fraction", req("p2p.set_inbound_limit", `[1.5]`), "must be a non-negative integer"},
		{"outbound over 1024", req("p2p.set_outbound_slots", `[1025]`), "net.outbound_connections must be 0..1024, got 1025"},
		{"inbound over 65536", req("p2p.set_inbound_limit", `[65537]`), "net.inbound_connections must be 0..65536, got 65537"},
		{"count huge", req("p2p.set_inbound_limit", `[9007199254740991]`), "too large"},
		{"seed not a string", req("p2p.add_seed", `[5]`), "params[0] (multiaddr) must be a string"},
		{"seed not a multiaddr", req("p2p.add_seed", `["nowhere"]`), "is not a multiaddr"},
		{"seed without p2p", req("p2p.add_seed", `["/ip4/127.0.0.1/tcp/1"]`), "lacks /p2p/<peer-id>"},
		{"seed p2p only", req("p2p.add_seed", `["/p2p/`+n.ID().String()+`"]`), "no transport address"},
		{"seed is us", req("p2p.add_seed", `["`+own+`"]`), "our own peer ID"},
		{"remove without p2p", req("p2p.remove_seed", `["/ip4/127.0.0.1/tcp/1"]`), "invalid seed address"},
		{"seeds with params", req("p2p.get_seeds", `[0,1,2]`), "got 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, body := post(t, srv, tc.body)
			code, msg, _ := rpcError(t, body)
			if code != CodeInvalidParams || !strings.Contains(msg, tc.msg) {
				t.Errorf("got %d %q; want %d containing %q", code, msg, CodeInvalidParams, tc.msg)
			}
		})
	}
	if n.Info().OutboundConnections != 0 || n.Info().InboundConnections != s.Net.InboundConnections || len(n.Admin().Seeds()) != 0 {
		t.Errorf("bad params changed the node: outbound %d, inbound %d, seeds %v",
			n.Info().OutboundConnections, n.Info().InboundConnections, n.Admin().Seeds())
	}
}
