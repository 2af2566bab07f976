package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/rpc"
)

// dnode slots and dnode seeds change a running node at once, and dnode
// info shows the new values.
func TestSlotsAndSeedsCommands(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	a := startTestNode(t)
	b := startTestNode(t)
	addr := serveRPC(t, a, nil, "")
	seed := b.Addrs()[0].String()

	r := runCLI(t, "slots", "--rpc", addr)
	for _, want := range []string{"Outbound slots", "0 (0 filled)", "Inbound limit", "8 (0 inbound channels)"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("slots lacks %q: %+v", want, r)
		}
	}
	if r = runCLI(t, "slots", "outbound", "3", "--rpc", addr); r.code != 0 || strings.TrimSpace(r.stdout) != "net.outbound_connections set to 3" {
		t.Fatalf("slots outbound 3: %+v", r)
	}
	r = runCLI(t, "slots", "inbound", "5", "--rpc", addr, "--json")
	var res rpc.Slots
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.InboundConnections == nil || *res.InboundConnections != 5 {
		t.Fatalf("slots inbound 5 --json: %+v", r)
	}
	if a.Info().OutboundConnections != 3 || a.Info().InboundConnections != 5 || len(nodeinternal.OutboundSlots(a)) != 3 {
		t.Errorf("node: outbound %d (%d slots), inbound %d; want 3, 3, 5", a.Info().OutboundConnections, len(nodeinternal.OutboundSlots(a)), a.Info().InboundConnections)
	}
	r = runCLI(t, "slots", "--rpc", addr, "--json")
	res = rpc.Slots{}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.OutboundConnections == nil || *res.OutboundConnections != 3 ||
		res.InboundConnections == nil || *res.InboundConnections != 5 {
		t.Errorf("slots --json: %+v", r)
	}

	if r = runCLI(t, "seeds", "--rpc", addr); r.code != 0 || strings.TrimSpace(r.stdout) != "No seeds." {
		t.Errorf("seeds: %+v", r)
	}
	if r = runCLI(t, "seeds", "add", seed, "--rpc", addr); r.code != 0 || strings.TrimSpace(r.stdout) != "Seed added: "+seed {
		t.Fatalf("seeds add: %+v", r)
	}
	if r = runCLI(t, "seeds", "--rpc", addr); r.code != 0 || strings.TrimSpace(r.stdout) != seed {
		t.Errorf("seeds after add: %+v", r)
	}
	var seeds []string
	if r = runCLI(t, "seeds", "--rpc", addr, "--json"); r.code != 0 || json.Unmarshal([]byte(r.stdout), &seeds) != nil ||
		len(seeds) != 1 || seeds[0] != seed {
		t.Errorf("seeds --json: %+v", r)
	}
	r = runCLI(t, "info", "--rpc", addr)
	for _, want := range []string{"Outbound slots", "of 3 filled", "Inbound limit", "5 (", "Seeds", "1"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("info lacks %q: %+v", want, r)
		}
	}
	if r = runCLI(t, "seeds", "add", seed, "--rpc", addr); r.code != exitFailure || !strings.Contains(r.stderr, "already") {
		t.Errorf("seeds add twice: %+v", r)
	}
	if r = runCLI(t, "seeds", "remove", seed, "--rpc", addr); r.code != 0 || strings.TrimSpace(r.stdout) != "Seed removed: "+seed {
		t.Errorf("seeds remove: %+v", r)
	}
	if len(a.Admin().Seeds()) != 0 {
		t.Errorf("node seeds after remove: %v", a.Admin().Seeds())
	}

	// Bad input: usage errors before any call, the node's refusals as
	// failures with its message.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"slots", "outbound", "many"}, exitUsage, "not a whole number"},
		{[]string{"slots", "outbound"}, exitUsage, "accepts 1 arg"},
		{[]string{"slots", "inbound", "1", "2"}, exitUsage, "accepts 1 arg"},
		{[]string{"slots", "outbound", "2000"}, exitFailure, "net.outbound_connections must be 0..1024"},
		{[]string{"slots", "inbound", "70000"}, exitFailure, "net.inbound_connections must be 0..65536"},
		{[]string{"seeds", "add", "/ip4/127.0.0.1/tcp/1"}, exitFailure, "/p2p/<peer-id>"},
		{[]string{"seeds", "add", "nowhere"}, exitFailure, "not a multiaddr"},
		{[]string{"seeds", "remove", seed}, exitFailure, "not a seed"},
		{[]string{"seeds", "add"}, exitUsage, "accepts 1 arg"},
	} {
		r := runCLI(t, append(tc.args, "--rpc", addr)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%v: code %d stderr %q; want %d containing %q", tc.args, r.code, r.stderr, tc.code, tc.msg)
		}
	}
	if a.Info().OutboundConnections != 3 || a.Info().InboundConnections != 5 {
		t.Errorf("bad input changed the node: outbound %d, inbound %d", a.Info().OutboundConnections, a.Info().InboundConnections)
	}
}
