package settings

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// Bad values that decode but fail Validate, given as TOML.
func TestValidateTOML(t *testing.T) {
	fixedEnv(t)
	for _, c := range []struct {
		name, doc, key, msg string
	}{
		{"outbound_connections negative", "[net]\noutbound_connections = -1\n", "net.outbound_connections", "-1 is out of range 0..1024"},
		{"outbound_connections too big", "[net]\noutbound_connections = 100000\n", "net.outbound_connections", "100000 is out of range 0..1024"},
		{"inbound_connections too big", "[net]\ninbound_connections = 65537\n", "net.inbound_connections", "out of range 0..65536"},
		{"known_peer_percent too big", "[net]\nknown_peer_percent = 101\n", "net.known_peer_percent", "101 is out of range 0..100"},
		{"known_peer_percent negative", "[net]\nknown_peer_percent = -1\n", "net.known_peer_percent", "out of range"},
		{"getaddrs_max too big", "[net]\ngetaddrs_max = 5000\n", "net.getaddrs_max", "5000 is out of range 0..1000"},
		{"zero duration", "[net]\nhostlist_save_interval = 0\n", "net.hostlist_save_interval", "must be at least 1s"},
		{"save interval under 1s", "[net]\nhostlist_save_interval = \"999ms\"\n", "net.hostlist_save_interval", "999ms: must be at least 1s"},
		{"duplicate inbound", "[net]\ninbound = [\"/ip4/0.0.0.0/tcp/5\", \"/ip4/0.0.0.0/udp/5/quic-v1\", \"/ip4/0.0.0.0/tcp/5\"]\n", "net.inbound[2]", `"/ip4/0.0.0.0/tcp/5" is listed twice (also net.inbound[0])`},
		{"negative duration", "[net]\nban_duration = \"-1h\"\n", "net.ban_duration", "must be positive"},
		{"negative seconds", "[net]\ngreylist_refinery_interval = -5\n", "net.greylist_refinery_interval", "must be positive"},
		{"zero time_with_no_connections", "[net]\ntime_with_no_connections = 0\n", "net.time_with_no_connections", "must be positive"},
		{"zero attempt time", "[net]\noutbound_peer_discovery_attempt_time = \"0s\"\n", "net.outbound_peer_discovery_attempt_time", "must be positive"},
		{"zero cooloff time", "[net]\noutbound_peer_discovery_cooloff_time = 0\n", "net.outbound_peer_discovery_cooloff_time", "must be positive"},
		{"zero profile timeout", "[net.profiles.quic]\noutbound_connect_timeout = 0\n", "net.profiles.quic.outbound_connect_timeout", "must be positive"},
		{"negative profile heartbeat", "[net.profiles.ws]\nchannel_heartbeat_interval = -1\n", "net.profiles.ws.channel_heartbeat_interval", "must be positive"},
		{"bad ban_policy", "[net]\nban_policy = \"lenient\"\n", "net.ban_policy", `"lenient" is not "strict" or "relaxed"`},
		{"bad reachability", "[net]\nreachability = \"nat\"\n", "net.reachability", `"nat" is not "auto", "public" or "private"`},
		{"relay_max_reservations zero", "[net]\nrelay_max_reservations = 0\n", "net.relay_max_reservations", "0 is out of range 1..4096"},
		{"relay_max_reservations too big", "[net]\nrelay_max_reservations = 5000\n", "net.relay_max_reservations", "5000 is out of range 1..4096"},
		{"peer lacks p2p", "[net]\npeers = [\"/ip4/1.2.3.4/tcp/5\"]\n", "net.peers[0]", `"/ip4/1.2.3.4/tcp/5": peer address lacks /p2p/<peer-id>`},
		{"seed lacks p2p", "[net]\nseeds = [\"/ip4/1.2.3.4/tcp/5/p2p/" + pidA + "\", \"/ip4/1.2.3.4/tcp/5\"]\n", "net.seeds[1]", `"/ip4/1.2.3.4/tcp/5": seed address lacks /p2p/<peer-id>`},
		{"peer p2p not last", "[net]\npeers = [\"/ip4/1.2.3.4/tcp/5/p2p/" + pidA + "/p2p-circuit\"]\n", "net.peers[0]", "must end in /p2p/<peer-id>"},
		{"peer bare p2p", "[net]\npeers = [\"/p2p/" + pidA + "\"]\n", "net.peers[0]", "no transport address"},
		{"inbound with p2p", "[net]\ninbound = [\"/ip4/0.0.0.0/tcp/5/p2p/" + pidA + "\"]\n", "net.inbound[0]", "must not contain /p2p/"},
		{"external addr with p2p", "[net]\nexternal_addrs = [\"/ip4/1.2.3.4/tcp/5/p2p/" + pidA + "\"]\n", "net.external_addrs[0]", "must not contain /p2p/"},
		{"blacklist garbage", "[net]\nblacklist = [\"10.0.0.1\", \"not-a-host\"]\n", "net.blacklist[1]", `"not-a-host": not a peer ID, IP address, CIDR prefix or multiaddr`},
		{"blacklist empty", "[net]\nblacklist = [\"\"]\n", "net.blacklist[0]", "empty entry"},
		{"blacklist bad cidr", "[net]\nblacklist = [\"10.0.0.0/33\"]\n", "net.blacklist[0]", "invalid CIDR prefix"},
		{"blacklist ip zone", "[net]\nblacklist = [\"fe80::1%eth0\"]\n", "net.blacklist[0]", "zone"},
		{"blacklist dns multiaddr", "[net]\nblacklist = [\"/dns4/example.org/tcp/5\"]\n", "net.blacklist[0]", "/ip4|/ip6"},
		{"blacklist quic multiaddr", "[net]\nblacklist = [\"/ip4/1.2.3.4/udp/5/quic-v1\"]\n", "net.blacklist[0]", "/ip4|/ip6"},
		{"blacklist bad multiaddr", "[net]\nblacklist = [\"/ip4/1.2.3\"]\n", "net.blacklist[0]", `"/ip4/1.2.3"`},
		{"network uppercase", "network = \"DNode\"\n", "network", "not a valid network id"},
		{"network empty", "network = \"\"\n", "network", "not a valid network id"},
		{"network leading dash", "network = \"-x\"\n", "network", "not a valid network id"},
		{"network too long", "network = \"" + strings.Repeat("a", 65) + "\"\n", "network", "not a valid network id"},
		{"network space", "network = \"a b\"\n", "network", "not a valid network id"},
		{"datastore empty", "datastore = \"\"\n", "datastore", "must be set"},
		{"rpc_hosts url", "rpc_hosts = [\"http://x\"]\n", "rpc_hosts[0]", "not a URL"},
		{"rpc_hosts port", "rpc_hosts = [\"a\", \"x.lan:80\"]\n", "rpc_hosts[1]", "without port"},
		{"rpc_hosts empty", "rpc_hosts = [\"\"]\n", "rpc_hosts[0]", "empty host"},
		{"rpc_max_batch zero", "rpc_max_batch = 0\n", "rpc_max_batch", "out of range 1..10000"},
		{"rpc_max_response_bytes small", "rpc_max_response_bytes = 100\n", "rpc_max_response_bytes", "out of range"},
		{"rpc_max_in_flight zero", "rpc_max_in_flight = 0\n", "rpc_max_in_flight", "out of range 1..4096"},
		{"rpc_listen no port", "rpc_listen = \"localhost\"\n", "rpc_listen", "host:port"},
		{"rpc_listen bad port", "rpc_listen = \"127.0.0.1:http\"\n", "rpc_listen", "not a number"},
		{"rpc_listen port too big", "rpc_listen = \"127.0.0.1:65536\"\n", "rpc_listen", "not a number"},
		{"log_level unknown", "log_level = \"verbose\"\n", "log_level", `"verbose" is not one of debug, info`},
		{"log_level uppercase", "log_level = \"INFO\"\n", "log_level", "is not one of"},
		{"relay max_message_size zero", "[relay]\nmax_message_size = 0\n", "relay.max_message_size", "0 is out of range 1..268435456"},
		{"relay max_hops too big", "[relay]\nmax_hops = 256\n", "relay.max_hops", "256 is out of range 1..255"},
		{"relay empty topic", "[relay]\ntopics = [\"a\", \"\"]\n", "relay.topics[1]", "1..256 bytes"},
		{"relay duplicate topic", "[relay]\ntopics = [\"a\", \"a\"]\n", "relay.topics[1]", "listed twice"},
		{"relay zero lazy_interval", "[relay]\nlazy_interval = 0\n", "relay.lazy_interval", "must be positive"},
		{"relay negative queue_bytes", "[relay]\nqueue_bytes = -1\n", "relay.queue_bytes", "out of range"},
		{"proxy http", "[net]\nproxy = \"http://127.0.0.1:8080\"\n", "net.proxy", `"http://127.0.0.1:8080": scheme "http" is not supported; want socks5://host:port`},
		{"proxy no scheme", "[net]\nproxy = \"127.0.0.1:9050\"\n", "net.proxy", "want socks5://host:port"},
		{"proxy no port", "[net]\nproxy = \"socks5://127.0.0.1\"\n", "net.proxy", "no port"},
		{"proxy bad port", "[net]\nproxy = \"socks5://127.0.0.1:0\"\n", "net.proxy", "not a number in 1..65535"},
		{"proxy path", "[net]\nproxy = \"socks5://127.0.0.1:9050/x\"\n", "net.proxy", "no path"},
		{"proxy no host", "[net]\nproxy = \"socks5://:9050\"\n", "net.proxy", "no host"},
		{"tor_control no port", "[net]\ntor_control = \"127.0.0.1\"\n", "net.tor_control", "want host:port"},
		{"tor_control bad port", "[net]\ntor_control = \"127.0.0.1:x\"\n", "net.tor_control", "not a number"},
		{"tor_control without tcp listener", "[net]\ninbound = [\"/ip4/127.0.0.1/udp/5/quic-v1\"]\ntor_control = \"127.0.0.1:9051\"\n", "net.tor_control", "plain TCP listener"},
		{"stable order: top-level before net", "network = \"X\"\n[net]\noutbound_connections = -1\n", "network", "network id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse([]byte(c.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			before := s.Clone()
			e := wantKey(t, s.Validate(), c.key)
			if !strings.Contains(e.Msg, c.msg) {
				t.Errorf("Msg = %q, want it to contain %q", e.Msg, c.msg)
			}
			if !reflect.DeepEqual(s, before) {
				t.Errorf("Validate modified the settings")
			}
			if again := s.Validate(); again.Error() != e.Error() {
				t.Errorf("second Validate = %v, want %v", again, e)
			}
		})
	}
}

// Values that are not TOML keys, or are only reachable from Go.
func TestValidateFields(t *testing.T) {
	fixedEnv(t)
	for _, c := range []struct {
		name   string
		mutate func(*Settings)
		key    string
	}{
		{"app_version two parts", func(s *Settings) { s.AppVersion = "1.0" }, "app_version"},
		{"app_version v prefix", func(s *Settings) { s.AppVersion = "v1.0.0" }, "app_version"},
		{"app_version leading zero", func(s *Settings) { s.AppVersion = "1.02.0" }, "app_version"},
		{"app_version bad pre", func(s *Settings) { s.AppVersion = "1.0.0-" }, "app_version"},
		{"app_name empty", func(s *Settings) { s.AppName = "" }, "app_name"},
		{"unknown profile in map", func(s *Settings) { s.Net.Profiles["i2p"] = DefaultProfile() }, "net.profiles.i2p"},
		{"zero profile", func(s *Settings) { s.Net.Profiles[ProfileTCP] = Profile{} }, "net.profiles.tcp.outbound_connect_timeout"},
		{"nil multiaddr", func(s *Settings) { s.Net.Inbound = append(s.Net.Inbound, nil) }, "net.inbound[2]"},
		{"ban_policy empty", func(s *Settings) { s.Net.BanPolicy = "" }, "net.ban_policy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Default()
			c.mutate(&s)
			wantKey(t, s.Validate(), c.key)
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	fixedEnv(t)
	for _, c := range []struct {
		name   string
		mutate func(*Settings)
	}{
		{"semver prerelease and build", func(s *Settings) { s.AppVersion = "1.2.3-rc.1+build.5" }},
		{"rpc disabled", func(s *Settings) { s.RPCListen = "" }},
		{"rpc any host", func(s *Settings) { s.RPCListen = ":26660" }},
		{"rpc ipv6", func(s *Settings) { s.RPCListen = "[::1]:0" }},
		{"network with dots", func(s *Settings) { s.Network = "0.dnode_test-net" }},
		{"network 64 chars", func(s *Settings) { s.Network = strings.Repeat("a", 64) }},
		{"no profiles", func(s *Settings) { s.Net.Profiles = nil }},
		{"no inbound", func(s *Settings) { s.Net.Inbound = nil }},
		{"relay peer", func(s *Settings) {
			s.Net.Peers = addrs(t, "/ip4/1.2.3.4/tcp/5/p2p/"+pidB+"/p2p-circuit/p2p/"+pidA)
		}},
		{"blacklist forms", func(s *Settings) {
			s.Net.Blacklist = []string{pidA, pidB, "1.2.3.4", "::1", "192.168.0.0/16", "2001:db8::/32",
				"/ip4/1.2.3.4", "/ip6/::1/udp/5", "/ip4/1.2.3.4/tcp/5/p2p/" + pidA, "/ip6/::1/p2p/" + pidB}
		}},
		{"socks5 proxy with auth", func(s *Settings) { s.Net.Proxy = "socks5://user:pw@localhost:9050" }},
		{"tor control", func(s *Settings) { s.Net.TorControl, s.Net.TorControlPassword = "127.0.0.1:9051", "pw" }},
		{"onion peer and seed", func(s *Settings) {
			s.Net.Peers = addrs(t, "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:26661/p2p/"+pidA)
			s.Net.Seeds = addrs(t, "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:26662/p2p/"+pidB)
			s.Net.ExternalAddrs = addrs(t, "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:26661")
		}},
		{"zero limits", func(s *Settings) {
			s.Net.OutboundConnections, s.Net.InboundConnections, s.Net.KnownPeerPercent = 0, 0, 0
		}},
		{"short durations", func(s *Settings) { s.Net.BanDuration = time.Nanosecond }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Default()
			c.mutate(&s)
			if err := s.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
	for _, lvl := range logLevels() {
		t.Run("log_level "+lvl, func(t *testing.T) {
			s := Default()
			s.LogLevel = lvl
			if err := s.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// The bounds themselves are accepted: a 1 s save interval, the same port
// on two transports.
func TestValidateAcceptsBounds(t *testing.T) {
	fixedEnv(t)
	s, err := Parse([]byte("[net]\nhostlist_save_interval = 1\ninbound = [\"/ip4/0.0.0.0/tcp/5\", \"/ip4/0.0.0.0/udp/5/quic-v1\", \"/ip6/::/tcp/5\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

// NAT traversal is on by default and off under localnet, or with every
// NAT key off.
func TestNATTraversal(t *testing.T) {
	n := Default().Net
	if !n.AutoNAT || !n.HolePunching || !n.NATPortMap || n.RelayService || n.Reachability != ReachabilityAuto || n.RelayMaxReservations != 64 {
		t.Errorf("NAT defaults %+v", n)
	}
	if !n.NATTraversal() {
		t.Error("defaults: NAT traversal off")
	}
	local := n
	local.Localnet = true
	if local.NATTraversal() {
		t.Error("localnet: NAT traversal on")
	}
	proxied := n
	proxied.Proxy = "socks5://127.0.0.1:9050"
	if proxied.NATTraversal() {
		t.Error("proxy: NAT traversal on")
	}
	off := n
	off.AutoNAT, off.HolePunching, off.NATPortMap = false, false, false
	if off.NATTraversal() {
		t.Error("every NAT key off: NAT traversal on")
	}
	off.RelayService = true
	if !off.NATTraversal() {
		t.Error("relay_service alone: NAT traversal off")
	}
	var s Settings = Default()
	if err := s.Set("net.reachability", "private"); err != nil || s.Net.Reachability != ReachabilityPrivate {
		t.Errorf("Set reachability: %v, %q", err, s.Net.Reachability)
	}
}
