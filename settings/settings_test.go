package settings

import (
	"bufio"
	"bytes"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	ma "github.com/multiformats/go-multiaddr"
)

// Valid peer IDs (Ed25519 and RSA/SHA-256 forms).
const (
	pidA = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5"
	pidB = "QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"
)

// fixedEnv makes Default() deterministic and returns its Datastore.
func fixedEnv(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "xdg")
	t.Setenv("XDG_DATA_HOME", dir)
	return filepath.Join(dir, "dnode")
}

func addrs(t *testing.T, ss ...string) []ma.Multiaddr {
	t.Helper()
	out := make([]ma.Multiaddr, len(ss))
	for i, s := range ss {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			t.Fatalf("bad test multiaddr %q: %v", s, err)
		}
		out[i] = a
	}
	return out
}

func TestDefault(t *testing.T) {
	ds := fixedEnv(t)
	s := Default()
	if s.Datastore != ds {
		t.Errorf("Datastore = %q, want %q", s.Datastore, ds)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"network", s.Network, "dnode"},
		{"rpc_listen", s.RPCListen, "127.0.0.1:26660"},
		{"log_level", s.LogLevel, "info"},
		{"app_name", s.AppName, "dnode"},
		{"app_version", s.AppVersion, "0.1.0"},
		{"inbound", s.Net.Inbound, addrs(t, "/ip4/0.0.0.0/tcp/26661", "/ip4/0.0.0.0/udp/26661/quic-v1")},
		{"outbound_connections", s.Net.OutboundConnections, 8},
		{"inbound_connections", s.Net.InboundConnections, 8},
		{"hostlist_save_interval", s.Net.HostlistSaveInterval, 5 * time.Minute},
		{"greylist_refinery_interval", s.Net.GreylistRefineryInterval, 15 * time.Second},
		{"known_peer_percent", s.Net.KnownPeerPercent, 70},
		{"time_with_no_connections", s.Net.TimeWithNoConnections, 30 * time.Second},
		{"attempt_time", s.Net.OutboundPeerDiscoveryAttemptTime, 5 * time.Second},
		{"cooloff_time", s.Net.OutboundPeerDiscoveryCooloffTime, 30 * time.Second},
		{"getaddrs_max", s.Net.GetaddrsMax, 0},
		{"ban_policy", s.Net.BanPolicy, BanStrict},
		{"ban_duration", s.Net.BanDuration, 24 * time.Hour},
		{"profiles", s.Net.Profiles, map[string]Profile{ProfileTCP: DefaultProfile(), ProfileQUIC: DefaultProfile(), ProfileWS: DefaultProfile(), ProfileTor: TorProfile()}},
		{"default profile", DefaultProfile(), Profile{15 * time.Second, 10 * time.Second, 30 * time.Second}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
}

func TestDefaultDatastore(t *testing.T) {
	t.Run("xdg", func(t *testing.T) {
		t.Setenv("XDG_DATA_HOME", "/data")
		if got := Default().Datastore; got != "/data/dnode" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("relative xdg ignored", func(t *testing.T) {
		t.Setenv("XDG_DATA_HOME", "rel")
		t.Setenv("HOME", "/home/u")
		if got := Default().Datastore; got != "/home/u/.local/share/dnode" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("no home", func(t *testing.T) {
		t.Setenv("XDG_DATA_HOME", "")
		t.Setenv("HOME", "")
		s := Default()
		if s.Datastore != "" {
			t.Fatalf("got %q, want empty", s.Datastore)
		}
		wantKey(t, s.Validate(), "datastore")
	})
}

func TestDefaultConfigTOML(t *testing.T) {
	fixedEnv(t)
	got, err := Parse(DefaultConfigTOML)
	if err != nil {
		t.Fatalf("Parse(DefaultConfigTOML): %v", err)
	}
	if want := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(DefaultConfigTOML) =\n%+v\nwant\n%+v", got, want)
	}
}

// uncommented returns default.toml with every "#key = value" and "#[table]"
// line made active; prose lines start with "##".
func uncommented(t *testing.T) []byte {
	t.Helper()
	re := regexp.MustCompile(`^#[a-z\[]`)
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(DefaultConfigTOML))
	for sc.Scan() {
		line := sc.Text()
		if re.MatchString(line) {
			line = line[1:]
		}
		b.WriteString(line + "\n")
	}
	return b.Bytes()
}

// The commented-out values in default.toml are the real defaults, and every
// key is documented there.
func TestDefaultConfigDocumentsEveryKey(t *testing.T) {
	fixedEnv(t)
	t.Setenv("HOME", "/home/test")
	doc := uncommented(t)
	got, err := Parse(doc)
	if err != nil {
		t.Fatalf("Parse(uncommented default.toml): %v", err)
	}
	want := Default()
	want.Datastore = "/home/test/.local/share/dnode" // "~/" expanded; XDG is not consulted
	if !reflect.DeepEqual(got, want) {
		t.Errorf("uncommented defaults =\n%+v\nwant\n%+v", got, want)
	}
	var m map[string]any
	md, err := toml.Decode(string(doc), &m)
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, k := range md.Keys() {
		present[k.String()] = true
	}
	for _, k := range Keys() {
		t.Run(k, func(t *testing.T) {
			if !present[k] {
				t.Errorf("key %s is not documented in default.toml", k)
			}
		})
	}
}

func TestNetHelpers(t *testing.T) {
	n := Default().Net
	n.Profiles[ProfileQUIC] = Profile{OutboundConnectTimeout: time.Minute, ChannelHandshakeTimeout: 1, ChannelHeartbeatInterval: 1}
	t.Run("profile known", func(t *testing.T) {
		if got := n.Profile(ProfileQUIC).OutboundConnectTimeout; got != time.Minute {
			t.Errorf("got %v", got)
		}
	})
	t.Run("profile fallback", func(t *testing.T) {
		if got := n.Profile("i2p"); got != DefaultProfile() {
			t.Errorf("got %v", got)
		}
		var empty Net
		if got := empty.Profile(ProfileTor); got != TorProfile() {
			t.Errorf("nil map, tor: got %v, want %v", got, TorProfile())
		}
		if got := empty.Profile(ProfileTCP); got != DefaultProfile() {
			t.Errorf("nil map: got %v", got)
		}
	})
	t.Run("handshake bound", func(t *testing.T) {
		n := Default().Net
		if got := n.HandshakeBound(); got != 10*time.Second {
			t.Errorf("clearnet: got %v, want the tcp profile's 10s", got)
		}
		n.Proxy = "socks5://127.0.0.1:9050"
		if got := n.HandshakeBound(); got != 55*time.Second {
			t.Errorf("proxied: got %v, want the tor profile's 55s", got)
		}
		n.Proxy, n.TorControl = "", "127.0.0.1:9051"
		if got := n.HandshakeBound(); got != 55*time.Second {
			t.Errorf("onion service: got %v, want the tor profile's 55s", got)
		}
		if got := n.MaxConnectTimeout(); got != 65*time.Second {
			t.Errorf("onion service: max connect timeout %v, want the tor profile's 65s", got)
		}
	})
	t.Run("max connect timeout", func(t *testing.T) {
		if got := n.MaxConnectTimeout(); got != time.Minute {
			t.Errorf("got %v", got)
		}
		var empty Net
		if got := empty.MaxConnectTimeout(); got != 15*time.Second {
			t.Errorf("empty: got %v", got)
		}
	})
	for _, c := range []struct {
		name    string
		percent int
		disable bool
		want    int
	}{
		{"below cap", 70, false, 70},
		{"capped", 95, false, 80},
		{"zero", 0, false, 0},
		{"disable greys", 10, true, 100},
	} {
		t.Run("effective known percent "+c.name, func(t *testing.T) {
			n := Net{KnownPeerPercent: c.percent, DisableGreys: c.disable}
			if got := n.EffectiveKnownPeerPercent(); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
}

func TestHostlistPath(t *testing.T) {
	for _, c := range []struct {
		name, datastore, hostlist, want string
	}{
		{"default", "/var/lib/dnode", "", "/var/lib/dnode/hostlist.tsv"},
		{"explicit", "/var/lib/dnode", "/tmp/h.tsv", "/tmp/h.tsv"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Settings{Datastore: c.datastore, Net: Net{Hostlist: c.hostlist}}
			if got := s.HostlistPath(); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestClone(t *testing.T) {
	s := Default()
	s.Net.Peers = addrs(t, "/ip4/1.2.3.4/tcp/5/p2p/"+pidA)
	s.Net.Seeds = addrs(t, "/ip4/1.2.3.5/tcp/5/p2p/"+pidB)
	s.Net.ExternalAddrs = addrs(t, "/ip4/1.2.3.6/tcp/5")
	s.Net.Blacklist = []string{"10.0.0.0/8"}
	orig := Default()
	orig.Net.Peers = addrs(t, "/ip4/1.2.3.4/tcp/5/p2p/"+pidA)
	orig.Net.Seeds = addrs(t, "/ip4/1.2.3.5/tcp/5/p2p/"+pidB)
	orig.Net.ExternalAddrs = addrs(t, "/ip4/1.2.3.6/tcp/5")
	orig.Net.Blacklist = []string{"10.0.0.0/8"}

	c := s.Clone()
	if !reflect.DeepEqual(c, s) {
		t.Fatalf("clone differs:\n%+v\n%+v", c, s)
	}
	c.Net.Inbound[0] = nil
	c.Net.Peers[0] = nil
	c.Net.Seeds[0] = nil
	c.Net.ExternalAddrs[0] = nil
	c.Net.Blacklist[0] = "x"
	c.Net.Profiles[ProfileTCP] = Profile{}
	delete(c.Net.Profiles, ProfileWS)
	if !reflect.DeepEqual(s, orig) {
		t.Errorf("modifying the clone changed the original:\n%+v", s)
	}
	t.Run("nil fields stay nil", func(t *testing.T) {
		var z Settings
		if c := z.Clone(); !reflect.DeepEqual(c, z) {
			t.Errorf("got %+v", c)
		}
	})
}

func TestKeys(t *testing.T) {
	keys := Keys()
	if len(keys) != 9+28+12+14+3 {
		t.Errorf("len(Keys()) = %d, want 66", len(keys))
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("duplicate key %s", k)
		}
		seen[k] = true
		if strings.ToLower(k) != k {
			t.Errorf("key %s is not lowercase", k)
		}
	}
}
