package settings

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// wantKey checks that err is an *Error for key, matching ErrInvalid, with
// the documented Error() format.
func wantKey(t *testing.T, err error, key string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one for key %q", key)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	if e.Key != key {
		t.Errorf("Key = %q, want %q (error: %v)", e.Key, key, err)
	}
	want := "config: " + e.Key + ": " + e.Msg
	if e.Key == "" {
		want = "config: " + e.Msg
	}
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	return e
}

// tomlFor renders key = value under the key's table.
func tomlFor(key, value string) string {
	i := strings.LastIndex(key, ".")
	if i < 0 {
		return key + " = " + value + "\n"
	}
	return "[" + key[:i] + "]\n" + key[i+1:] + " = " + value + "\n"
}

type roundTrip struct {
	key  string
	toml string // TOML value literal
	flag string // Set value
	want func(*Settings)
}

func roundTrips(t *testing.T) []roundTrip {
	peer := "/ip4/1.2.3.4/tcp/26661/p2p/" + pidA
	seed := "/dns4/seed.example.org/udp/26661/quic-v1/p2p/" + pidB
	prof := func(name string, f func(*Profile)) func(*Settings) {
		return func(s *Settings) {
			p := s.Net.Profiles[name]
			f(&p)
			s.Net.Profiles[name] = p
		}
	}
	var cases []roundTrip
	for _, name := range profileNames() {
		prefix := "net.profiles." + name + "."
		cases = append(cases,
			roundTrip{prefix + "outbound_connect_timeout", "65", "65", prof(name, func(p *Profile) { p.OutboundConnectTimeout = 65 * time.Second })},
			roundTrip{prefix + "channel_handshake_timeout", `"1m30s"`, "1m30s", prof(name, func(p *Profile) { p.ChannelHandshakeTimeout = 90 * time.Second })},
			roundTrip{prefix + "channel_heartbeat_interval", `"500ms"`, "500ms", prof(name, func(p *Profile) { p.ChannelHeartbeatInterval = 500 * time.Millisecond })},
		)
	}
	return append([]roundTrip{
		{"network", `"testnet-1"`, "testnet-1", func(s *Settings) { s.Network = "testnet-1" }},
		{"datastore", `"/srv/dnode"`, "/srv/dnode", func(s *Settings) { s.Datastore = "/srv/dnode" }},
		{"rpc_listen", `"[::1]:9000"`, "[::1]:9000", func(s *Settings) { s.RPCListen = "[::1]:9000" }},
		{"rpc_hosts", `["node.lan", "*"]`, "node.lan,*", func(s *Settings) { s.RPCHosts = []string{"node.lan", "*"} }},
		{"metrics_public", `true`, "true", func(s *Settings) { s.MetricsPublic = true }},
		{"rpc_max_batch", `10`, "10", func(s *Settings) { s.RPCMaxBatch = 10 }},
		{"rpc_max_response_bytes", `1048576`, "1048576", func(s *Settings) { s.RPCMaxResponseBytes = 1 << 20 }},
		{"rpc_max_in_flight", `4`, "4", func(s *Settings) { s.RPCMaxInFlight = 4 }},
		{"log_level", `"debug"`, "debug", func(s *Settings) { s.LogLevel = "debug" }},
		{"net.inbound", `["/ip6/::/tcp/1", "/ip4/0.0.0.0/tcp/2/ws"]`, "/ip6/::/tcp/1, /ip4/0.0.0.0/tcp/2/ws", func(s *Settings) {
			s.Net.Inbound = addrs(t, "/ip6/::/tcp/1", "/ip4/0.0.0.0/tcp/2/ws")
		}},
		{"net.external_addrs", `["/ip4/5.6.7.8/tcp/26661"]`, "/ip4/5.6.7.8/tcp/26661", func(s *Settings) {
			s.Net.ExternalAddrs = addrs(t, "/ip4/5.6.7.8/tcp/26661")
		}},
		{"net.peers", `["` + peer + `", "` + seed + `"]`, peer + "," + seed, func(s *Settings) { s.Net.Peers = addrs(t, peer, seed) }},
		{"net.seeds", `["` + seed + `"]`, seed, func(s *Settings) { s.Net.Seeds = addrs(t, seed) }},
		{"net.outbound_connections", "0", "0", func(s *Settings) { s.Net.OutboundConnections = 0 }},
		{"net.inbound_connections", "65536", "65536", func(s *Settings) { s.Net.InboundConnections = 65536 }},
		{"net.localnet", "true", "true", func(s *Settings) { s.Net.Localnet = true }},
		{"net.hostlist", `"/tmp/hosts.tsv"`, "/tmp/hosts.tsv", func(s *Settings) { s.Net.Hostlist = "/tmp/hosts.tsv" }},
		{"net.hostlist_save_interval", "120", "120", func(s *Settings) { s.Net.HostlistSaveInterval = 2 * time.Minute }},
		{"net.greylist_refinery_interval", `"2s"`, "2s", func(s *Settings) { s.Net.GreylistRefineryInterval = 2 * time.Second }},
		{"net.known_peer_percent", "100", "100", func(s *Settings) { s.Net.KnownPeerPercent = 100 }},
		{"net.disable_greys", "true", "true", func(s *Settings) { s.Net.DisableGreys = true }},
		{"net.time_with_no_connections", "1", "1", func(s *Settings) { s.Net.TimeWithNoConnections = time.Second }},
		{"net.outbound_peer_discovery_attempt_time", `"1h"`, "1h", func(s *Settings) { s.Net.OutboundPeerDiscoveryAttemptTime = time.Hour }},
		{"net.outbound_peer_discovery_cooloff_time", "3600", "3600", func(s *Settings) { s.Net.OutboundPeerDiscoveryCooloffTime = time.Hour }},
		{"net.getaddrs_max", "1000", "1000", func(s *Settings) { s.Net.GetaddrsMax = 1000 }},
		{"net.ban_policy", `"relaxed"`, "relaxed", func(s *Settings) { s.Net.BanPolicy = BanRelaxed }},
		{"net.ban_duration", "86400", "86400", func(s *Settings) { s.Net.BanDuration = 24 * time.Hour }},
		{"net.blacklist", `["` + pidA + `", "10.0.0.1", "fd00::/8", "/ip4/1.2.3.4/tcp/5/p2p/` + pidB + `"]`,
			pidA + ",10.0.0.1, fd00::/8 ,/ip4/1.2.3.4/tcp/5/p2p/" + pidB, func(s *Settings) {
				s.Net.Blacklist = []string{pidA, "10.0.0.1", "fd00::/8", "/ip4/1.2.3.4/tcp/5/p2p/" + pidB}
			}},
		{"net.proxy", `"socks5://127.0.0.1:9050"`, "socks5://127.0.0.1:9050", func(s *Settings) { s.Net.Proxy = "socks5://127.0.0.1:9050" }},
		{"net.tor_control", `"127.0.0.1:9051"`, "127.0.0.1:9051", func(s *Settings) { s.Net.TorControl = "127.0.0.1:9051" }},
		{"net.tor_control_password", `"hunter2"`, "hunter2", func(s *Settings) { s.Net.TorControlPassword = "hunter2" }},
		{"net.autonat", "false", "false", func(s *Settings) { s.Net.AutoNAT = false }},
		{"net.reachability", `"public"`, "public", func(s *Settings) { s.Net.Reachability = ReachabilityPublic }},
		{"net.hole_punching", "false", "false", func(s *Settings) { s.Net.HolePunching = false }},
		{"net.nat_portmap", "false", "false", func(s *Settings) { s.Net.NATPortMap = false }},
		{"net.relay_service", "true", "true", func(s *Settings) { s.Net.RelayService = true }},
		{"net.relay_max_reservations", "7", "7", func(s *Settings) { s.Net.RelayMaxReservations = 7 }},
		{"relay.topics", `["chat", "blocks"]`, "chat,blocks", func(s *Settings) { s.Relay.Topics = []string{"chat", "blocks"} }},
		{"relay.max_message_size", "4194304", "4194304", func(s *Settings) { s.Relay.MaxMessageSize = 4 << 20 }},
		{"relay.eager_max_size", "1024", "1024", func(s *Settings) { s.Relay.EagerMaxSize = 1024 }},
		{"relay.history_count", "100", "100", func(s *Settings) { s.Relay.HistoryCount = 100 }},
		{"relay.history_age", `"1h"`, "1h", func(s *Settings) { s.Relay.HistoryAge = time.Hour }},
		{"relay.history_bytes", "1000", "1000", func(s *Settings) { s.Relay.HistoryBytes = 1000 }},
		{"relay.lazy_interval", `"100ms"`, "100ms", func(s *Settings) { s.Relay.LazyInterval = 100 * time.Millisecond }},
		{"relay.max_hops", "8", "8", func(s *Settings) { s.Relay.MaxHops = 8 }},
		{"relay.meter_window", "60", "60", func(s *Settings) { s.Relay.MeterWindow = time.Minute }},
		{"relay.meter_messages", "10", "10", func(s *Settings) { s.Relay.MeterMessages = 10 }},
		{"relay.meter_bytes", "1000000", "1000000", func(s *Settings) { s.Relay.MeterBytes = 1000000 }},
		{"relay.reject_limit", "1", "1", func(s *Settings) { s.Relay.RejectLimit = 1 }},
		{"relay.unknown_limit", "2", "2", func(s *Settings) { s.Relay.UnknownLimit = 2 }},
		{"relay.queue_bytes", "33554432", "33554432", func(s *Settings) { s.Relay.QueueBytes = 32 << 20 }},
		{"seed.networks", `["dchat", "darkirc"]`, "dchat,darkirc", func(s *Settings) { s.Seed.Networks = []string{"dchat", "darkirc"} }},
		{"seed.whitelist_refinery_interval", `"2m"`, "2m", func(s *Settings) { s.Seed.WhitelistRefineryInterval = 2 * time.Minute }},
		{"seed.inbound_connections", "1000", "1000", func(s *Settings) { s.Seed.InboundConnections = 1000 }},
	}, cases...)
}

// Every key can be set from TOML and from Set, to the same value, and the
// result validates.
func TestRoundTrip(t *testing.T) {
	fixedEnv(t)
	cases := roundTrips(t)
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.key] = true
		want := Default()
		c.want(&want)
		t.Run(c.key+"/toml", func(t *testing.T) {
			got, err := Parse([]byte(tomlFor(c.key, c.toml)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
		t.Run(c.key+"/set", func(t *testing.T) {
			got := Default()
			if err := got.Set(c.key, c.flag); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, want)
			}
		})
	}
	for _, k := range Keys() {
		if !covered[k] {
			t.Errorf("key %s has no round-trip case", k)
		}
	}
}

func TestHomeExpansion(t *testing.T) {
	t.Setenv("HOME", "/home/test")
	for _, c := range []struct{ in, want string }{
		{"~/x", "/home/test/x"},
		{"~", "/home/test"},
		{"~user/x", "~user/x"},
		{"/a/~/b", "/a/~/b"},
		{"rel/x", "rel/x"},
	} {
		for _, key := range []string{"datastore", "net.hostlist"} {
			get := func(s Settings) string {
				if key == "datastore" {
					return s.Datastore
				}
				return s.Net.Hostlist
			}
			t.Run(key+" "+c.in, func(t *testing.T) {
				s, err := Parse([]byte(tomlFor(key, `"`+c.in+`"`)))
				if err != nil {
					t.Fatal(err)
				}
				if got := get(s); got != c.want {
					t.Errorf("toml: got %q, want %q", got, c.want)
				}
				s = Default()
				if err := s.Set(key, c.in); err != nil {
					t.Fatal(err)
				}
				if got := get(s); got != c.want {
					t.Errorf("Set: got %q, want %q", got, c.want)
				}
			})
		}
	}
}

func TestDurationForms(t *testing.T) {
	for _, c := range []struct {
		name, toml string
		want       time.Duration
	}{
		{"integer seconds", "45", 45 * time.Second},
		{"digit string", `"45"`, 45 * time.Second},
		{"minutes", `"5m"`, 5 * time.Minute},
		{"compound", `"1m30s"`, 90 * time.Second},
		{"milliseconds", `"250ms"`, 250 * time.Millisecond},
		{"hours", `"48h"`, 48 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse([]byte(tomlFor("net.ban_duration", c.toml)))
			if err != nil {
				t.Fatal(err)
			}
			if s.Net.BanDuration != c.want {
				t.Errorf("got %v, want %v", s.Net.BanDuration, c.want)
			}
		})
	}
}

func TestEmptyLists(t *testing.T) {
	t.Run("toml", func(t *testing.T) {
		s, err := Parse([]byte("[net]\ninbound = []\n"))
		if err != nil {
			t.Fatal(err)
		}
		if s.Net.Inbound != nil {
			t.Errorf("got %v, want nil", s.Net.Inbound)
		}
	})
	for _, v := range []string{"", " , ,"} {
		t.Run("set "+v, func(t *testing.T) {
			s := Default()
			if err := s.Set("net.inbound", v); err != nil {
				t.Fatal(err)
			}
			if s.Net.Inbound != nil {
				t.Errorf("got %v, want nil", s.Net.Inbound)
			}
		})
	}
}

func TestPartialProfile(t *testing.T) {
	s, err := Parse([]byte("[net.profiles.quic]\nchannel_heartbeat_interval = 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultProfile()
	want.ChannelHeartbeatInterval = 5 * time.Second
	if got := s.Net.Profiles[ProfileQUIC]; got != want {
		t.Errorf("quic = %+v, want %+v", got, want)
	}
	for _, name := range []string{ProfileTCP, ProfileWS} {
		if got := s.Net.Profiles[name]; got != DefaultProfile() {
			t.Errorf("%s = %+v, want default", name, got)
		}
	}
}

func TestTOMLForms(t *testing.T) {
	for _, c := range []struct{ name, doc string }{
		{"dotted keys", "net.outbound_connections = 3\nnet.profiles.tcp.outbound_connect_timeout = 3\n"},
		{"inline tables", "net = { outbound_connections = 3, profiles = { tcp = { outbound_connect_timeout = 3 } } }\n"},
		{"quoted keys", "[\"net\"]\n\"outbound_connections\" = 3\n[net.profiles.\"tcp\"]\noutbound_connect_timeout = 3\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse([]byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if s.Net.OutboundConnections != 3 || s.Net.Profiles[ProfileTCP].OutboundConnectTimeout != 3*time.Second {
				t.Errorf("got %+v", s.Net)
			}
		})
	}
}

// Bad input caught while decoding (Parse, Load and Set).
func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, doc, key, msg string
	}{
		{"unknown top-level key", "network = \"a\"\nfoo = 1\n", "foo", "unknown key"},
		{"unknown top-level table", "[foo]\nx = 1\n", "foo", "unknown key"},
		{"key differs in case", "Network = \"a\"\n", "Network", "unknown key"},
		{"unknown key in net", "[net]\nfoo = 1\n", "net.foo", "unknown key"},
		{"unknown key in net.profiles", "[net.profiles]\nfoo = 1\n", "net.profiles.foo", "unknown profile"},
		{"unknown profile", "[net.profiles.i2p]\noutbound_connect_timeout = 5\n", "net.profiles.i2p", `unknown profile "i2p"`},
		{"unknown key in profile", "[net.profiles.tcp]\nfoo = 1\n", "net.profiles.tcp.foo", "unknown key"},
		{"app_name is not a key", "app_name = \"x\"\n", "app_name", "unknown key"},
		{"net not a table", "net = 5\n", "net", "expected a table, got integer 5"},
		{"net array of tables", "[[net]]\nlocalnet = true\n", "net", "expected a table, got array of tables"},
		{"profiles not a table", "[net]\nprofiles = []\n", "net.profiles", "expected a table, got array"},
		{"string key wrong type", "network = 5\n", "network", "expected a string, got integer 5"},
		{"string key given a table", "network.x = 5\n", "network", "expected a string, got table"},
		{"int key wrong type", "[net]\noutbound_connections = \"x\"\n", "net.outbound_connections", `expected an integer, got string "x"`},
		{"int key float", "[net]\ngetaddrs_max = 1.0\n", "net.getaddrs_max", "expected an integer, got float 1"},
		{"bool key wrong type", "[net]\nlocalnet = 1\n", "net.localnet", "expected true or false, got integer 1"},
		{"bool key string", "[net]\ndisable_greys = \"true\"\n", "net.disable_greys", `expected true or false, got string "true"`},
		{"list key wrong type", "[net]\npeers = \"/ip4/1.2.3.4/tcp/5\"\n", "net.peers", "expected an array of strings, got string"},
		{"list element wrong type", "[net]\ninbound = [\"/ip4/0.0.0.0/tcp/1\", 2]\n", "net.inbound[1]", "expected a string, got integer 2"},
		{"list of tables", "[net]\nblacklist = [{ip = \"1.2.3.4\"}]\n", "net.blacklist[0]", "expected a string, got table"},
		{"duration wrong type", "[net]\nban_duration = true\n", "net.ban_duration", "got boolean true"},
		{"duration float", "[net]\nban_duration = 1.5\n", "net.ban_duration", "got float 1.5"},
		{"duration bad string", "[net.profiles.ws]\nchannel_handshake_timeout = \"soon\"\n", "net.profiles.ws.channel_handshake_timeout", `invalid duration "soon"`},
		{"duration overflow", "[net]\nhostlist_save_interval = 9223372036854775807\n", "net.hostlist_save_interval", "out of range"},
		{"duration datetime", "[net]\nban_duration = 1979-05-27\n", "net.ban_duration", "got datetime"},
		{"bad multiaddr", "[net]\npeers = [\"/ip4/1.2.3.4/tcp/5/p2p/" + pidA + "\", \"/ip4/1.2.3.4/tcp/notaport\"]\n", "net.peers[1]", `"/ip4/1.2.3.4/tcp/notaport": `},
		{"unknown multiaddr protocol", "[net]\ninbound = [\"/bogus/1\"]\n", "net.inbound[0]", "unknown protocol"},
		{"empty multiaddr", "[net]\nseeds = [\"\"]\n", "net.seeds[0]", "empty multiaddr"},
		{"bad peer id in multiaddr", "[net]\nexternal_addrs = [\"/ip4/1.2.3.4/tcp/5/p2p/xyz\"]\n", "net.external_addrs[0]", "p2p"},
		{"syntax error", "[net]\noutbound_connections = = 1\n", "", "line 2"},
		{"duplicate key", "network = \"a\"\nnetwork = \"b\"\n", "", "line 2"},
		{"integer overflow", "[net]\ngetaddrs_max = 99999999999999999999\n", "", "out of range"},
		{"first error in file order wins", "[net]\nzzz = 1\nlocalnet = 1\n[aaa]\n", "net.zzz", "unknown key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse([]byte(c.doc))
			e := wantKey(t, err, c.key)
			if !strings.Contains(e.Msg, c.msg) {
				t.Errorf("Msg = %q, want it to contain %q", e.Msg, c.msg)
			}
			if !reflect.DeepEqual(s, Settings{}) {
				t.Errorf("got non-zero Settings with an error")
			}
		})
	}
}

func TestSetErrors(t *testing.T) {
	for _, c := range []struct {
		name, key, value, wantKey, msg string
	}{
		{"unknown key", "net.foo", "1", "net.foo", "unknown key"},
		{"table is not a key", "net", "1", "net", "unknown key"},
		{"app_version is not a key", "app_version", "1.0.0", "app_version", "unknown key"},
		{"unknown profile", "net.profiles.i2p.outbound_connect_timeout", "5", "net.profiles.i2p.outbound_connect_timeout", `unknown profile "i2p"`},
		{"unknown profile key", "net.profiles.tcp.foo", "5", "net.profiles.tcp.foo", "unknown key"},
		{"int", "net.outbound_connections", "x", "net.outbound_connections", `expected an integer, got string "x"`},
		{"int overflow", "net.outbound_connections", "99999999999999999999", "net.outbound_connections", "out of range"},
		{"bool", "net.localnet", "yes", "net.localnet", `expected true or false, got string "yes"`},
		{"duration", "net.ban_duration", "1.5", "net.ban_duration", `invalid duration "1.5"`},
		{"multiaddr", "net.seeds", "/ip4/1.2.3.4/tcp/5/p2p/" + pidA + ",/ip4/x", "net.seeds[1]", `"/ip4/x"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Default()
			before := s.Clone()
			e := wantKey(t, s.Set(c.key, c.value), c.wantKey)
			if !strings.Contains(e.Msg, c.msg) {
				t.Errorf("Msg = %q, want it to contain %q", e.Msg, c.msg)
			}
			if !reflect.DeepEqual(s, before) {
				t.Errorf("failed Set changed the settings")
			}
		})
	}
}

func TestLoad(t *testing.T) {
	fixedEnv(t)
	dir := t.TempDir()
	t.Run("ok", func(t *testing.T) {
		path := filepath.Join(dir, "ok.toml")
		if err := os.WriteFile(path, []byte("[net]\nlocalnet = true\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		want := Default()
		want.Net.Localnet = true
		if !reflect.DeepEqual(s, want) {
			t.Errorf("got %+v", s)
		}
	})
	t.Run("syntax error names file and line", func(t *testing.T) {
		path := filepath.Join(dir, "bad.toml")
		if err := os.WriteFile(path, []byte("network = \"a\"\nlocalnet = = true\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		e := wantKey(t, err, "")
		if !strings.HasPrefix(e.Msg, path+": line 2") {
			t.Errorf("Msg = %q, want prefix %q", e.Msg, path+": line 2")
		}
	})
	t.Run("missing file is not ErrInvalid", func(t *testing.T) {
		_, err := Load(filepath.Join(dir, "missing.toml"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v, want fs.ErrNotExist", err)
		}
		if errors.Is(err, ErrInvalid) {
			t.Errorf("errors.Is(%v, ErrInvalid) = true", err)
		}
	})
}
