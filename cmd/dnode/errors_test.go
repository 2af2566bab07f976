package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnode-p2p/dnode"
)

func TestConfigErrorsExit2(t *testing.T) {
	isolate(t)
	good := writeTemp(t, "good.toml", `rpc_listen = ""
[net]
inbound = ["/ip4/127.0.0.1/tcp/0"]
`)
	file := func(content string) []string {
		return []string{"--config", writeTemp(t, "dnode.toml", content)}
	}
	flags := func(args ...string) []string { return append([]string{"--config", good}, args...) }

	cases := []struct {
		name string
		args []string
		want []string // substrings of the error line
	}{
		{"unknown key in file", file("[net]\nbogus = 1\n"), []string{"config: net.bogus: unknown key"}},
		{"unknown top-level key", file(`nework = "x"` + "\n"), []string{"config: nework: unknown key"}},
		{"wrong type in file", file("[net]\noutbound_connections = \"eight\"\n"), []string{"net.outbound_connections", "expected an integer"}},
		{"out of range in file", file("[net]\nknown_peer_percent = 101\n"), []string{"net.known_peer_percent", "out of range"}},
		{"bad multiaddr in file", file("[net]\npeers = [\"/ip4/1.2.3.4/tcp/x/p2p/" + somePeer + "\"]\n"), []string{"net.peers[0]"}},
		{"unparsable TOML", file("network = \n"), []string{"dnode.toml", "line 1"}},
		{"missing explicit config", []string{"--config", filepath.Join(t.TempDir(), "missing.toml")}, []string{"missing.toml", "no such file"}},
		{"unreadable explicit config", []string{"--config", t.TempDir()}, []string{"config: "}},
		{"empty --config", []string{"--config", ""}, []string{"--config: empty path"}},
		{"out-of-range --outbound-slots", flags("--outbound-slots", "100000"), []string{"config: net.outbound_connections: 100000 is out of range"}},
		{"non-integer --inbound-slots", flags("--inbound-slots", "many"), []string{"--inbound-slots", "net.inbound_connections", "expected an integer"}},
		{"bad multiaddr in --peers", flags("--peers", "/ip4/999.1.1.1/tcp/1/p2p/"+somePeer), []string{"net.peers[0]", "999.1.1.1"}},
		{"peer without /p2p/", flags("--peers", "/ip4/127.0.0.1/tcp/1234"), []string{"net.peers[0]", "lacks /p2p/"}},
		{"second peer bad", flags("--peers", "/ip4/127.0.0.1/tcp/1/p2p/"+somePeer, "--peers", "/ip4/127.0.0.1/tcp/2"), []string{"net.peers[1]"}},
		{"seed without /p2p/", flags("--seeds", "/ip4/127.0.0.1/tcp/1234"), []string{"net.seeds[0]"}},
		{"--accept with /p2p/", flags("--accept", "/ip4/127.0.0.1/tcp/0/p2p/"+somePeer), []string{"net.inbound[0]"}},
		{"bad --log-level", flags("--log-level", "loud"), []string{"config: log_level:", "loud"}},
		{"bad --network", flags("--network", "Bad Net"), []string{"config: network:"}},
		{"bad --rpc-listen", flags("--rpc-listen", "nowhere"), []string{"config: rpc_listen:"}},
		{"empty --datastore", flags("--datastore", ""), []string{"config: datastore:"}},
		// Values from the file are overridden, not merged, by flags.
		{"flag overrides good file", flags("--accept", "/ip4/1.2.3.4/tcp/1/p2p/"+somePeer), []string{"net.inbound[0]"}},
	}
	for _, sub := range []string{"run", "id", ""} {
		for _, c := range cases {
			name := sub
			if name == "" {
				name = "root"
			}
			t.Run(name+"/"+c.name, func(t *testing.T) {
				logs := captureLogs(t)
				args := c.args
				if sub != "" {
					args = append([]string{sub}, args...)
				}
				r := runCLI(t, args...)
				if r.code != 2 {
					t.Fatalf("exit %d, want 2; stderr %q", r.code, r.stderr)
				}
				if r.stdout != "" {
					t.Errorf("stdout %q, want nothing", r.stdout)
				}
				lines := nonEmptyLines(r.stderr)
				if len(lines) != 1 || !strings.HasPrefix(lines[0], "dnode: ") {
					t.Fatalf("stderr %q, want one line starting with \"dnode: \"", r.stderr)
				}
				for _, w := range c.want {
					if !strings.Contains(lines[0], w) {
						t.Errorf("error %q does not contain %q", lines[0], w)
					}
				}
				if strings.Contains(logs.String(), "Starting P2P network") {
					t.Error("the node was started despite the error")
				}
			})
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	isolate(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"run", "--bogus"}, "unknown flag: --bogus"},
		{"unknown root flag", []string{"--bogus"}, "unknown flag: --bogus"},
		{"unknown subcommand", []string{"bogus"}, `unknown command "bogus"`},
		{"extra argument", []string{"run", "extra"}, `"extra"`},
		{"id extra argument", []string{"id", "extra"}, `"extra"`},
		{"flag without value", []string{"run", "--config"}, "--config"},
		{"bad bool", []string{"run", "--localnet=maybe"}, "--localnet"},
		{"init has no --bogus", []string{"init", "--bogus"}, "unknown flag: --bogus"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, c.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "dnode: ") || !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr %q, want \"dnode: ...%s...\"", r.stderr, c.want)
			}
			if !strings.Contains(r.stderr, "--help") {
				t.Errorf("stderr %q does not point to --help", r.stderr)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	isolate(t)
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"help", "init"}, {"id", "-h"}} {
		r := runCLI(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%q: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
	r := runCLI(t, "--version")
	if r.code != 0 || !strings.Contains(r.stdout, dnode.Version) {
		t.Errorf("--version: exit %d, stdout %q", r.code, r.stdout)
	}
}
