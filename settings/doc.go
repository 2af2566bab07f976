// Package settings owns dnode's configuration: the Settings type with its
// defaults, decoding from a TOML file, setting single keys from command-line
// flags, and validation. It is the Go counterpart of DarkFi's
// src/net/settings.rs (Settings, NetworkProfile, BanPolicy), with DarkFi's
// URLs replaced by multiaddrs and its magic bytes by a network id.
//
// # Use
//
// A daemon starts from Load(path) (or Default(), or Parse(DefaultConfigTOML)),
// applies its flags with Set, fills in AppName and AppVersion, and only then
// calls Validate. Load and Set check syntax and types; Validate checks
// ranges and cross-field rules. Settings values are plain data: copy them
// with Clone before handing them to code that may modify slices or the
// profile map.
//
// # TOML layout
//
//	network = "dnode"                  # network id
//	datastore = "/path"                # identity key and hostlist directory
//	rpc_listen = "127.0.0.1:26660"     # "" disables RPC
//	rpc_hosts = []                     # extra Host names the RPC answers to
//	metrics_public = false             # /metrics without the RPC token
//	rpc_max_batch = 100                # RPC caps
//	rpc_max_response_bytes = 4194304
//	rpc_max_in_flight = 16
//	log_level = "info"
//
//	[net]
//	inbound = ["/ip4/0.0.0.0/tcp/26661", "/ip4/0.0.0.0/udp/26661/quic-v1"]
//	external_addrs = []
//	peers = ["/ip4/1.2.3.4/tcp/26661/p2p/12D3KooW..."]
//	seeds = []
//	outbound_connections = 8
//	inbound_connections = 8
//	localnet = false
//	hostlist = ""                      # "" means <datastore>/hostlist.tsv
//	hostlist_save_interval = "5m"
//	greylist_refinery_interval = 15
//	known_peer_percent = 70
//	disable_greys = false
//	time_with_no_connections = 30
//	outbound_peer_discovery_attempt_time = 5
//	outbound_peer_discovery_cooloff_time = 30
//	getaddrs_max = 0                   # 0 means outbound_connections
//	ban_policy = "strict"              # or "relaxed"
//	ban_duration = "24h"
//	blacklist = []
//	proxy = ""                         # socks5://host:port: every dial through it
//	tor_control = ""                   # host:port of Tor's control port: an onion service
//	tor_control_password = ""
//
//	[net.profiles.tcp]                 # also quic and ws
//	outbound_connect_timeout = 15
//	channel_handshake_timeout = 10
//	channel_heartbeat_interval = 30
//
//	[seed]                             # dnode seed only
//	networks = []                      # empty: the top-level network
//	whitelist_refinery_interval = 120
//	inbound_connections = 512
//
// DefaultConfigTOML (default.toml) documents every key with its default.
// In datastore and net.hostlist a leading "~/" stands for the home directory.
// A profile table given partially keeps the defaults of the keys it omits;
// after Default or Load, Net.Profiles always holds tcp, quic, ws and tor. Keys()
// lists every key in dotted form, which is also the form Set takes.
//
// # Durations
//
// Every duration key accepts an integer number of seconds (DarkFi style,
// ban_duration = 86400) or a Go duration string (ban_duration = "24h",
// "1m30s", "500ms"); see Duration. Every duration must be positive.
//
// # Errors
//
// Every configuration problem is reported as an *Error whose Key is the
// dotted TOML path of the bad key, with an [index] for list elements, and
// whose Error() is "config: <key>: <msg>", e.g.
//
//	config: net.foo: unknown key
//	config: net.outbound_connections: expected an integer, got string "x"
//	config: net.seeds[1]: "/ip4/1.2.3.4/tcp/5": seed address lacks /p2p/<peer-id>
//
// TOML syntax errors have an empty Key and name the file and line instead.
// errors.Is(err, ErrInvalid) is true for every *Error. Only the first problem
// is returned: the first in file order for Load and Parse, the first in a
// fixed key order for Validate. A file that cannot be read is not an *Error;
// its error wraps the os error. No input makes the package panic.
package settings
