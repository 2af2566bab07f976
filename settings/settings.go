package settings

import (
	_ "embed"
	"os"
	"path/filepath"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// DefaultConfigTOML is the commented default configuration file. Parsing it
// yields Default() (except Datastore, which Default computes from the
// environment). A daemon can write it out as a starting point for users.
//
//go:embed default.toml
var DefaultConfigTOML []byte

// BanPolicy selects whether misbehaving peers are banned automatically.
type BanPolicy string

const (
	// BanStrict bans peers automatically on protocol violations.
	BanStrict BanPolicy = "strict"
	// BanRelaxed disables all automatic bans (DarkFi uses it for seed nodes).
	BanRelaxed BanPolicy = "relaxed"
)

// Transport profile names accepted under [net.profiles.<name>].
const (
	ProfileTCP  = "tcp"
	ProfileQUIC = "quic"
	ProfileWS   = "ws"
	// ProfileTor is the profile of channels carried by Tor or a SOCKS5
	// proxy: /onion3 peers, every dial through net.proxy, and inbound
	// connections that Tor forwards to an onion service (see
	// docs/config.md, "Transport mixing").
	ProfileTor = "tor"
)

// profileNames lists the accepted profile names in their canonical order.
func profileNames() []string { return []string{ProfileTCP, ProfileQUIC, ProfileWS, ProfileTor} }

func isProfileName(name string) bool {
	return name == ProfileTCP || name == ProfileQUIC || name == ProfileWS || name == ProfileTor
}

// profileList is profileNames for error messages.
const profileList = "tcp, quic, ws or tor"

// Profile holds per-transport timeouts (DarkFi NetworkProfile).
type Profile struct {
	// OutboundConnectTimeout bounds one dial; it is also the pong wait.
	OutboundConnectTimeout time.Duration
	// ChannelHandshakeTimeout bounds the version exchange.
	ChannelHandshakeTimeout time.Duration
	// ChannelHeartbeatInterval is the sleep between pings.
	ChannelHeartbeatInterval time.Duration
}

// DefaultProfile returns the clearnet defaults: 15s connect, 10s handshake,
// 30s heartbeat.
func DefaultProfile() Profile {
	return Profile{
		OutboundConnectTimeout:   15 * time.Second,
		ChannelHandshakeTimeout:  10 * time.Second,
		ChannelHeartbeatInterval: 30 * time.Second,
	}
}

// TorProfile returns the defaults of the tor profile, DarkFi's
// tor_default(): 65s connect, 55s handshake, 90s heartbeat. Circuits take
// seconds to build, so the clearnet timeouts would drop healthy peers.
func TorProfile() Profile {
	return Profile{
		OutboundConnectTimeout:   65 * time.Second,
		ChannelHandshakeTimeout:  55 * time.Second,
		ChannelHeartbeatInterval: 90 * time.Second,
	}
}

// defaultProfile returns the defaults of profile name: TorProfile for
// "tor", DefaultProfile for any other.
func defaultProfile(name string) Profile {
	if name == ProfileTor {
		return TorProfile()
	}
	return DefaultProfile()
}

// Net is the [net] table: the P2P layer's settings. The comment on each field
// gives its TOML key; default.toml documents defaults and meaning.
type Net struct {
	Inbound                          []ma.Multiaddr     // inbound: listen addresses, without /p2p/
	ExternalAddrs                    []ma.Multiaddr     // external_addrs: advertised addresses, without /p2p/
	Peers                            []ma.Multiaddr     // peers: manual peers, each ending in /p2p/<peer-id>
	Seeds                            []ma.Multiaddr     // seeds: seed nodes, each ending in /p2p/<peer-id>
	OutboundConnections              int                // outbound_connections: 0..1024
	InboundConnections               int                // inbound_connections: 0..65536
	Localnet                         bool               // localnet
	Hostlist                         string             // hostlist: "" means <datastore>/hostlist.tsv
	HostlistSaveInterval             time.Duration      // hostlist_save_interval: > 0
	GreylistRefineryInterval         time.Duration      // greylist_refinery_interval: > 0
	KnownPeerPercent                 int                // known_peer_percent: 0..100
	DisableGreys                     bool               // disable_greys
	TimeWithNoConnections            time.Duration      // time_with_no_connections: > 0
	OutboundPeerDiscoveryAttemptTime time.Duration      // outbound_peer_discovery_attempt_time: > 0
	OutboundPeerDiscoveryCooloffTime time.Duration      // outbound_peer_discovery_cooloff_time: > 0
	GetaddrsMax                      int                // getaddrs_max: 0..1000, 0 means OutboundConnections
	BanPolicy                        BanPolicy          // ban_policy: strict or relaxed
	BanDuration                      time.Duration      // ban_duration: > 0
	Blacklist                        []string           // blacklist: peer IDs, IPs, CIDRs or /ip4|/ip6 multiaddrs
	Profiles                         map[string]Profile // [net.profiles.tcp|quic|ws|tor]

	// Proxy (proxy) is a socks5://[user:pass@]host:port URL: when set,
	// every outbound dial goes through it and host names are resolved by
	// the proxy, never locally (docs/config.md, "Transport mixing").
	Proxy string
	// TorControl (tor_control) is the host:port of Tor's control port:
	// when set, the node's TCP listener is published as an onion service
	// and its /onion3 address advertised.
	TorControl string
	// TorControlPassword (tor_control_password) authenticates to the
	// control port (HASHEDPASSWORD); empty means cookie or no auth.
	TorControlPassword string

	// NAT traversal (docs/operations.md, "Behind a NAT"). None of it
	// runs while Localnet or Proxy is set, whatever these say (see
	// NATTraversal).

	// AutoNAT (autonat) runs libp2p's AutoNAT v2 client and server (and
	// the v1 service that drives the host's reachability) to learn which
	// of our addresses are reachable.
	AutoNAT bool
	// Reachability (reachability) is "auto" (learn it through AutoNAT),
	// or "public" or "private" to force it.
	Reachability Reachability
	// HolePunching (hole_punching) runs DCUtR to turn relayed connections
	// into direct ones.
	HolePunching bool
	// NATPortMap (nat_portmap) asks the router for a port mapping through
	// UPnP or NAT-PMP.
	NATPortMap bool
	// RelayService (relay_service) serves circuit relay v2, as a limited
	// relay, to peers that have a channel with this node.
	RelayService bool
	// RelayMaxReservations (relay_max_reservations) caps the relay
	// reservations this node holds for others, 1..4096.
	RelayMaxReservations int
}

// Reachability is net.reachability.
type Reachability string

// Values of net.reachability.
const (
	ReachabilityAuto    Reachability = "auto"
	ReachabilityPublic  Reachability = "public"
	ReachabilityPrivate Reachability = "private"
)

// NATTraversal reports whether the node uses any NAT traversal at all:
// false under Localnet, with a Proxy (AutoNAT would hand our addresses to
// peers and hole punching would dial around the proxy), and when AutoNAT,
// HolePunching, NATPortMap and RelayService are all off; the host is then
// exactly as on a LAN (no relay transport either, and Reachability has no
// effect).
func (n *Net) NATTraversal() bool {
	return !n.Localnet && n.Proxy == "" && (n.AutoNAT || n.HolePunching || n.NATPortMap || n.RelayService)
}

// Profile returns the profile for a transport name, falling back to its
// defaults (TorProfile for "tor", DefaultProfile otherwise) when the name
// has no entry.
func (n *Net) Profile(name string) Profile {
	if p, ok := n.Profiles[name]; ok {
		return p
	}
	return defaultProfile(name)
}

// UsesTor reports whether some of the node's channels run over Tor or a
// proxy: net.proxy or net.tor_control is set.
func (n *Net) UsesTor() bool { return n.Proxy != "" || n.TorControl != "" }

// HandshakeBound returns the longest version-exchange timeout a channel of
// this node can have: the tcp profile's, or the tor profile's when it is
// longer and UsesTor. Connection reaping (a connection that never gets a
// channel) waits this long.
func (n *Net) HandshakeBound() time.Duration {
	d := n.Profile(ProfileTCP).ChannelHandshakeTimeout
	if n.UsesTor() {
		d = max(d, n.Profile(ProfileTor).ChannelHandshakeTimeout)
	}
	return d
}

// EffectiveKnownPeerPercent returns 100 if DisableGreys, else
// min(KnownPeerPercent, 80) (never below 0).
func (n *Net) EffectiveKnownPeerPercent() int {
	if n.DisableGreys {
		return 100
	}
	return max(0, min(n.KnownPeerPercent, 80))
}

// MaxConnectTimeout returns the largest OutboundConnectTimeout over all
// profiles, or the default profile's when there are none.
func (n *Net) MaxConnectTimeout() time.Duration {
	if len(n.Profiles) == 0 {
		return DefaultProfile().OutboundConnectTimeout
	}
	var m time.Duration
	for name, p := range n.Profiles {
		if name == ProfileTor && !n.UsesTor() {
			continue
		}
		m = max(m, p.OutboundConnectTimeout)
	}
	return m
}

// Settings is the whole dnode configuration.
type Settings struct {
	Network   string // network: network id (replaces DarkFi magic bytes)
	Datastore string // datastore: directory for the identity key and hostlist
	RPCListen string // rpc_listen: host:port; "" disables the RPC server
	// RPCHosts (rpc_hosts) are host names the RPC answers to besides
	// localhost, loopback IPs and rpc_listen's host; "*" means any.
	RPCHosts []string
	// MetricsPublic (metrics_public) serves /metrics without the RPC token.
	MetricsPublic bool
	// RPCMaxBatch (rpc_max_batch): requests in one JSON-RPC batch, 1..10000.
	RPCMaxBatch int
	// RPCMaxResponseBytes (rpc_max_response_bytes): bytes of one RPC
	// reply, 64 KiB..1 GiB.
	RPCMaxResponseBytes int
	// RPCMaxInFlight (rpc_max_in_flight): RPC messages served at once,
	// 1..4096.
	RPCMaxInFlight int
	LogLevel       string // log_level: debug, info, warn, error, dpanic, panic or fatal
	AppName        string // not a TOML key; set by the daemon
	AppVersion     string // not a TOML key; semver MAJOR.MINOR.PATCH[-pre][+build]
	Net            Net
	Relay          Relay // [relay]: the relay layer (package relay)
	Seed           Seed  // [seed]: used by `dnode seed` only
}

// Relay holds the [relay] table: how the node relays applications'
// messages to the whole network (package relay; docs/config.md).
type Relay struct {
	Topics         []string      // topics: relayed topics; empty means every topic
	MaxMessageSize int           // max_message_size: bytes of data, 1..256 MiB
	EagerMaxSize   int           // eager_max_size: larger messages are offered and fetched, not pushed
	HistoryCount   int           // history_count: messages kept for fetches and catch-up
	HistoryAge     time.Duration // history_age: how long they are kept; also the oldest message accepted
	HistoryBytes   int           // history_bytes: bytes of data kept
	LazyInterval   time.Duration // lazy_interval: how long announcements wait to be batched
	MaxHops        int           // max_hops: the hop limit, 1..255
	MeterWindow    time.Duration // meter_window: the receive metering window
	MeterMessages  int           // meter_messages: unasked frames per window and channel
	MeterBytes     int           // meter_bytes: unasked bytes per window and channel
	RejectLimit    int           // reject_limit: validator rejections per window and channel
	UnknownLimit   int           // unknown_limit: fetches and announcements of unknown messages per window and channel
	QueueBytes     int           // queue_bytes: relay bytes queued per channel; 0 means max(16 MiB, 4 × max_message_size)
}

// DefaultRelay returns the [relay] defaults.
func DefaultRelay() Relay {
	return Relay{
		MaxMessageSize: 1 << 20,
		EagerMaxSize:   16 << 10,
		HistoryCount:   4096,
		HistoryAge:     10 * time.Minute,
		HistoryBytes:   16 << 20,
		LazyInterval:   500 * time.Millisecond,
		MaxHops:        16,
		MeterWindow:    10 * time.Second,
		MeterMessages:  50000,
		MeterBytes:     256 << 20,
		RejectLimit:    5,
		UnknownLimit:   1000,
	}
}

// Seed holds the [seed] table: how a seed node (DarkFi's Lilith) runs.
type Seed struct {
	// Networks served on the same listen addresses, each with its own
	// address book and hostlist; empty means the top-level network only.
	Networks []string
	// WhitelistRefineryInterval is how often the oldest whitelist host is
	// re-probed (default 120s).
	WhitelistRefineryInterval time.Duration
	// InboundConnections replaces net.inbound_connections for a seed
	// (default 512, DarkFi's Lilith).
	InboundConnections int
}

// Default returns the default settings. Datastore is $XDG_DATA_HOME/dnode
// when XDG_DATA_HOME is an absolute path, else ~/.local/share/dnode, else ""
// (no home directory; Validate then reports it).
func Default() Settings {
	profiles := make(map[string]Profile, 4)
	for _, name := range profileNames() {
		profiles[name] = defaultProfile(name)
	}
	return Settings{
		Network:   "dnode",
		Datastore: defaultDatastore(),
		RPCListen: "127.0.0.1:26660",
		LogLevel:  "info",

		RPCMaxBatch:         100,
		RPCMaxResponseBytes: 4 << 20,
		RPCMaxInFlight:      16,
		AppName:             "dnode",
		AppVersion:          "0.1.0",
		Seed:                Seed{WhitelistRefineryInterval: 120 * time.Second, InboundConnections: 512},
		Relay:               DefaultRelay(),
		Net: Net{
			Inbound: []ma.Multiaddr{
				ma.StringCast("/ip4/0.0.0.0/tcp/26661"),
				ma.StringCast("/ip4/0.0.0.0/udp/26661/quic-v1"),
			},
			OutboundConnections:              8,
			InboundConnections:               8,
			HostlistSaveInterval:             5 * time.Minute,
			GreylistRefineryInterval:         15 * time.Second,
			KnownPeerPercent:                 70,
			TimeWithNoConnections:            30 * time.Second,
			OutboundPeerDiscoveryAttemptTime: 5 * time.Second,
			OutboundPeerDiscoveryCooloffTime: 30 * time.Second,
			BanPolicy:                        BanStrict,
			BanDuration:                      24 * time.Hour,
			Profiles:                         profiles,
			AutoNAT:                          true,
			Reachability:                     ReachabilityAuto,
			HolePunching:                     true,
			NATPortMap:                       true,
			RelayMaxReservations:             64,
		},
	}
}

func defaultDatastore() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "dnode")
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return filepath.Join(h, ".local", "share", "dnode")
	}
	return ""
}

// HostlistPath returns Net.Hostlist, or <Datastore>/hostlist.tsv when it is
// empty.
func (s Settings) HostlistPath() string {
	if s.Net.Hostlist != "" {
		return s.Net.Hostlist
	}
	return filepath.Join(s.Datastore, "hostlist.tsv")
}

// Clone returns a deep copy: slices and the profile map are not shared.
func (s Settings) Clone() Settings {
	c := s
	if s.RPCHosts != nil {
		c.RPCHosts = append([]string(nil), s.RPCHosts...)
	}
	c.Net.Inbound = cloneAddrs(s.Net.Inbound)
	c.Net.ExternalAddrs = cloneAddrs(s.Net.ExternalAddrs)
	c.Net.Peers = cloneAddrs(s.Net.Peers)
	c.Net.Seeds = cloneAddrs(s.Net.Seeds)
	if s.Net.Blacklist != nil {
		c.Net.Blacklist = append([]string(nil), s.Net.Blacklist...)
	}
	if s.Seed.Networks != nil {
		c.Seed.Networks = append([]string(nil), s.Seed.Networks...)
	}
	if s.Relay.Topics != nil {
		c.Relay.Topics = append([]string(nil), s.Relay.Topics...)
	}
	if s.Net.Profiles != nil {
		c.Net.Profiles = make(map[string]Profile, len(s.Net.Profiles))
		for k, v := range s.Net.Profiles {
			c.Net.Profiles[k] = v
		}
	}
	return c
}

func cloneAddrs(in []ma.Multiaddr) []ma.Multiaddr {
	if in == nil {
		return nil
	}
	out := make([]ma.Multiaddr, len(in))
	for i, a := range in {
		if a != nil {
			out[i] = append(ma.Multiaddr(nil), a...)
		}
	}
	return out
}
