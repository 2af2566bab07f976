package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	dhost "github.com/dnode-p2p/dnode/host"
)

func TestIDMatchesInit(t *testing.T) {
	isolate(t)
	cfg := filepath.Join(t.TempDir(), "dnode.toml")
	r := runCLI(t, "init", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("init: exit %d, stderr %q", r.code, r.stderr)
	}
	id := checkInitOutput(t, r.stdout)

	r = runCLI(t, "id", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("id: exit %d, stderr %q", r.code, r.stderr)
	}
	want := []string{
		id,
		"/ip4/0.0.0.0/tcp/26661/p2p/" + id,
		"/ip4/0.0.0.0/udp/26661/quic-v1/p2p/" + id,
	}
	if got := nonEmptyLines(r.stdout); !slices.Equal(got, want) {
		t.Errorf("id printed %q, want %q", got, want)
	}
	if r.stderr != "" {
		t.Errorf("id with an existing identity wrote %q to stderr", r.stderr)
	}
}

func TestIDCreatesIdentity(t *testing.T) {
	isolate(t)
	store := filepath.Join(t.TempDir(), "store")
	cfg := writeTemp(t, "dnode.toml", `datastore = "`+store+`"
[net]
inbound = ["/ip4/127.0.0.1/tcp/4001", "/ip6/::1/udp/4001/quic-v1"]
`)
	r := runCLI(t, "id", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("id: exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "Created a new identity in "+filepath.Join(store, dhost.IdentityFile)) {
		t.Errorf("stderr %q does not say the identity was created", r.stderr)
	}
	lines := nonEmptyLines(r.stdout)
	if len(lines) != 3 {
		t.Fatalf("id printed %q, want 3 lines", r.stdout)
	}
	id := lines[0]
	want := []string{id, "/ip4/127.0.0.1/tcp/4001/p2p/" + id, "/ip6/::1/udp/4001/quic-v1/p2p/" + id}
	if !slices.Equal(lines, want) {
		t.Errorf("id printed %q, want %q", lines, want)
	}
	if _, err := os.Stat(filepath.Join(store, dhost.IdentityFile)); err != nil {
		t.Fatal(err)
	}

	// Again: same identity, nothing created. --accept overrides inbound.
	r = runCLI(t, "id", "--config", cfg, "--accept", "/ip4/10.1.2.3/tcp/5", "--accept", "/dns4/example.com/tcp/6,/ip4/10.1.2.3/udp/7/quic-v1")
	want = []string{id, "/ip4/10.1.2.3/tcp/5/p2p/" + id, "/dns4/example.com/tcp/6/p2p/" + id, "/ip4/10.1.2.3/udp/7/quic-v1/p2p/" + id}
	if got := nonEmptyLines(r.stdout); r.code != 0 || !slices.Equal(got, want) {
		t.Errorf("id --accept: exit %d, printed %q, want %q (stderr %q)", r.code, got, want, r.stderr)
	}
	if r.stderr != "" {
		t.Errorf("second id wrote %q to stderr", r.stderr)
	}
}

func TestIDBuiltinDefaults(t *testing.T) {
	_, datastore := isolate(t)
	// No --config and no default config file: the built-in defaults.
	r := runCLI(t, "id")
	if r.code != 0 {
		t.Fatalf("id: exit %d, stderr %q", r.code, r.stderr)
	}
	lines := nonEmptyLines(r.stdout)
	if len(lines) != 3 || lines[1] != "/ip4/0.0.0.0/tcp/26661/p2p/"+lines[0] {
		t.Errorf("id printed %q", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(datastore, dhost.IdentityFile)); err != nil {
		t.Errorf("identity not in the default datastore: %v", err)
	}
	r = runCLI(t, "id", "--accept", "")
	if got := nonEmptyLines(r.stdout); r.code != 0 || len(got) != 1 || got[0] != lines[0] {
		t.Errorf("id --accept '': exit %d, printed %q, want only the peer ID", r.code, r.stdout)
	}
}
