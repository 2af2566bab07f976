package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/settings"
)

// checkInitOutput checks init's stdout: a peer ID, then dialable
// multiaddrs ending in /p2p/<id>. It returns the peer ID.
func checkInitOutput(t *testing.T, stdout string) string {
	t.Helper()
	lines := nonEmptyLines(stdout)
	if len(lines) < 2 {
		t.Fatalf("init printed %q, want a peer ID and at least one multiaddr", stdout)
	}
	id, err := peer.Decode(lines[0])
	if err != nil {
		t.Fatalf("first line %q is not a peer ID: %v", lines[0], err)
	}
	for _, l := range lines[1:] {
		a, err := ma.NewMultiaddr(l)
		if err != nil {
			t.Errorf("line %q is not a multiaddr: %v", l, err)
			continue
		}
		if !strings.HasSuffix(l, "/p2p/"+id.String()) {
			t.Errorf("line %q does not end in /p2p/%s", l, id)
		}
		if strings.HasPrefix(l, "/ip4/0.0.0.0/") || strings.HasPrefix(l, "/ip6/::/") {
			t.Errorf("line %q has an unspecified IP", l)
		}
		if _, err := peer.AddrInfoFromP2pAddr(a); err != nil {
			t.Errorf("line %q is not a peer address: %v", l, err)
		}
	}
	return lines[0]
}

func TestInitWritesDefaultConfig(t *testing.T) {
	cfgPath, datastore := isolate(t)
	r := runCLI(t, "init")
	if r.code != 0 {
		t.Fatalf("init: exit %d, stderr %q", r.code, r.stderr)
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, settings.DefaultConfigTOML) {
		t.Error("config file differs from settings.DefaultConfigTOML")
	}
	got, err := settings.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := settings.Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("config parses to\n%+v\nwant defaults\n%+v", got, want)
	}
	checkMode(t, cfgPath, 0o600)
	checkMode(t, filepath.Dir(cfgPath), 0o700|os.ModeDir)
	checkMode(t, filepath.Join(datastore, dhost.IdentityFile), 0o600)

	id := checkInitOutput(t, r.stdout)
	// The default config listens on 0.0.0.0, TCP and QUIC; loopback is
	// always among the interface addresses.
	for _, want := range []string{
		"/ip4/127.0.0.1/tcp/26661/p2p/" + id,
		"/ip4/127.0.0.1/udp/26661/quic-v1/p2p/" + id,
	} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("stdout %q lacks %s", r.stdout, want)
		}
	}
	for _, want := range []string{cfgPath, datastore, "Created a new identity"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not mention %q", r.stderr, want)
		}
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModePerm | os.ModeDir); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	_, datastore := isolate(t)
	cfg := filepath.Join(t.TempDir(), "sub", "dnode.toml")
	r := runCLI(t, "init", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("first init: exit %d, stderr %q", r.code, r.stderr)
	}
	firstID := checkInitOutput(t, r.stdout)
	mine := append(bytes.Clone(settings.DefaultConfigTOML), "\n# my edits\n"...)
	if err := os.WriteFile(cfg, mine, 0o600); err != nil {
		t.Fatal(err)
	}

	otherStore := filepath.Join(t.TempDir(), "other")
	r = runCLI(t, "init", "--config", cfg, "--datastore", otherStore)
	if r.code != 1 {
		t.Fatalf("second init: exit %d, want 1; stderr %q", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("second init printed %q", r.stdout)
	}
	if lines := nonEmptyLines(r.stderr); len(lines) != 1 || !strings.HasPrefix(lines[0], "dnode: ") ||
		!strings.Contains(lines[0], cfg) || !strings.Contains(lines[0], "--force") {
		t.Errorf("stderr %q, want one line naming the file and --force", r.stderr)
	}
	if data, err := os.ReadFile(cfg); err != nil || !bytes.Equal(data, mine) {
		t.Errorf("config file changed (err %v)", err)
	}
	if _, err := os.Stat(otherStore); !os.IsNotExist(err) {
		t.Errorf("refused init created the datastore %s (stat: %v)", otherStore, err)
	}

	// --force replaces the file and keeps the identity.
	r = runCLI(t, "init", "--config", cfg, "--force")
	if r.code != 0 {
		t.Fatalf("init --force: exit %d, stderr %q", r.code, r.stderr)
	}
	if data, err := os.ReadFile(cfg); err != nil || !bytes.Equal(data, settings.DefaultConfigTOML) {
		t.Errorf("init --force did not write the default config (err %v)", err)
	}
	checkMode(t, cfg, 0o600)
	if id := checkInitOutput(t, r.stdout); id != firstID {
		t.Errorf("init --force changed the peer ID from %s to %s", firstID, id)
	}
	if strings.Contains(r.stderr, "Created") {
		t.Errorf("init --force created a new identity: %q", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(datastore, dhost.IdentityFile)); err != nil {
		t.Error(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(cfg))
	if len(entries) != 1 {
		t.Errorf("config directory holds %d entries, want only dnode.toml", len(entries))
	}
}

func TestInitDatastore(t *testing.T) {
	isolate(t)
	cfg := filepath.Join(t.TempDir(), "dnode.toml")
	store := filepath.Join(t.TempDir(), "store")
	r := runCLI(t, "init", "--config", cfg, "--datastore", store)
	if r.code != 0 {
		t.Fatalf("init: exit %d, stderr %q", r.code, r.stderr)
	}
	id := checkInitOutput(t, r.stdout)
	if _, err := os.Stat(filepath.Join(store, dhost.IdentityFile)); err != nil {
		t.Errorf("identity not in --datastore: %v", err)
	}
	// The datastore is written into the file, so that run and id use it.
	s, err := settings.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Datastore != store {
		t.Errorf("config datastore %q, want %q", s.Datastore, store)
	}
	want := settings.Default()
	want.Datastore = store
	if !reflect.DeepEqual(s, want) {
		t.Errorf("config parses to\n%+v\nwant\n%+v", s, want)
	}
	r = runCLI(t, "id", "--config", cfg)
	if r.code != 0 || nonEmptyLines(r.stdout)[0] != id {
		t.Errorf("id: exit %d, stdout %q, want peer ID %s", r.code, r.stdout, id)
	}
}

// Flags given to init are written into the file, which keeps its comments.
func TestInitWritesFlags(t *testing.T) {
	isolate(t)
	cfg := filepath.Join(t.TempDir(), "dnode.toml")
	store := filepath.Join(t.TempDir(), "store")
	peerAddr := "/ip4/127.0.0.1/tcp/26661/p2p/" + somePeer
	r := runCLI(t, "init", "--config", cfg, "--datastore", store, "--network", "mynet",
		"--accept", "/ip4/127.0.0.1/tcp/4001", "--accept", "/ip6/::1/tcp/4001",
		"--peers", peerAddr, "--seeds", "", "--outbound-slots", "3", "--inbound-slots", "9",
		"--localnet", "--log-level", "debug", "--rpc-listen", "")
	if r.code != 0 {
		t.Fatalf("init: exit %d, stderr %q", r.code, r.stderr)
	}
	id := checkInitOutput(t, r.stdout)
	want := []string{id, "/ip4/127.0.0.1/tcp/4001/p2p/" + id, "/ip6/::1/tcp/4001/p2p/" + id}
	if got := nonEmptyLines(r.stdout); !slices.Equal(got, want) {
		t.Errorf("init printed %q, want %q", got, want)
	}

	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("## dnode configuration file.")) || !bytes.Contains(data, []byte("#[net.profiles.tcp]")) {
		t.Errorf("the written file lost the default comments:\n%s", data)
	}
	got, err := settings.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	exp := settings.Default()
	exp.Datastore = store
	exp.Network = "mynet"
	exp.Net.Inbound = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/4001"), ma.StringCast("/ip6/::1/tcp/4001")}
	exp.Net.Peers = []ma.Multiaddr{ma.StringCast(peerAddr)}
	exp.Net.OutboundConnections = 3
	exp.Net.InboundConnections = 9
	exp.Net.Localnet = true
	exp.LogLevel = "debug"
	exp.RPCListen = ""
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("written config parses to\n%+v\nwant\n%+v\nfile:\n%s", got, exp, data)
	}

	// id reads the same file: same peer ID, the configured addresses.
	r = runCLI(t, "id", "--config", cfg)
	if got := nonEmptyLines(r.stdout); r.code != 0 || !slices.Equal(got, want) {
		t.Errorf("id: exit %d, printed %q, want %q", r.code, got, want)
	}
}

// A relative --datastore is written as an absolute path.
func TestInitRelativeDatastore(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	t.Chdir(dir)
	r := runCLI(t, "init", "--config", "dnode.toml", "--datastore", "store")
	if r.code != 0 {
		t.Fatalf("init: exit %d, stderr %q", r.code, r.stderr)
	}
	s, err := settings.Load(filepath.Join(dir, "dnode.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "store"); s.Datastore != want {
		t.Errorf("datastore %q, want %q", s.Datastore, want)
	}
}

func TestInitConfigErrorWritesNothing(t *testing.T) {
	isolate(t)
	r := runCLI(t, "init", "--config", "")
	if r.code != 2 || !strings.Contains(r.stderr, "--config") {
		t.Errorf("init --config '': exit %d, stderr %q; want 2", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"--datastore", ""},
		{"--outbound-slots", "100000"},
		{"--peers", "/ip4/127.0.0.1/tcp/1"},
		{"--log-level", "loud"},
	} {
		cfg := filepath.Join(t.TempDir(), "dnode.toml")
		r := runCLI(t, append([]string{"init", "--config", cfg}, args...)...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "dnode: config: ") || len(nonEmptyLines(r.stderr)) != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and one config error line", args, r.code, r.stderr)
		}
		if _, err := os.Stat(cfg); !os.IsNotExist(err) {
			t.Errorf("%q: config written despite the error (stat: %v)", args, err)
		}
	}
}

// init makes the datastore 0700 and the key 0600, tightening a datastore
// the operator created open to others, with a warning.
func TestInitMakesDatastoreAndKeyPrivate(t *testing.T) {
	cfgPath, datastore := isolate(t)
	if err := os.MkdirAll(datastore, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(datastore, 0o755); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "init", "--config", cfgPath, "--datastore", datastore)
	if r.code != 0 {
		t.Fatalf("init: exit %d, stderr %q", r.code, r.stderr)
	}
	for p, want := range map[string]os.FileMode{datastore: 0o700, filepath.Join(datastore, dhost.IdentityFile): 0o600, cfgPath: 0o600} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", p, st.Mode().Perm(), want)
		}
	}
	if !strings.Contains(r.stderr, "tightened") || !strings.Contains(r.stderr, datastore) {
		t.Errorf("no warning about the datastore in stderr %q", r.stderr)
	}
}
