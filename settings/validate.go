package settings

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	ma "github.com/multiformats/go-multiaddr"
)

var (
	networkRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	// semverRE is the regular expression suggested by semver.org 2.0.0.
	semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
		`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
		`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
)

// logLevels are the go-log (zap) level names accepted by log_level.
func logLevels() []string {
	return []string{"debug", "info", "warn", "error", "dpanic", "panic", "fatal"}
}

// Validate checks ranges and formats and returns the first problem as an
// *Error, in a fixed order: top-level keys, then [net] keys in struct order,
// then profiles (tcp, quic, ws, tor, then any other names, sorted). It does not
// modify s.
func (s *Settings) Validate() error {
	if err := s.validateMain(); err != nil {
		return err
	}
	if err := s.Relay.Validate(); err != nil {
		return err
	}
	for i, nw := range s.Seed.Networks {
		if !networkRE.MatchString(nw) {
			return errf(fmt.Sprintf("seed.networks[%d]", i), "%s is not a valid network id (want ^[a-z0-9][a-z0-9._-]{0,63}$)", quote(nw))
		}
		if slices.Contains(s.Seed.Networks[:i], nw) {
			return errf(fmt.Sprintf("seed.networks[%d]", i), "%s is listed twice", quote(nw))
		}
	}
	if s.Seed.WhitelistRefineryInterval <= 0 {
		return errf("seed.whitelist_refinery_interval", "must be positive")
	}
	if s.Seed.InboundConnections < 0 || s.Seed.InboundConnections > 65536 {
		return errf("seed.inbound_connections", "%d is out of range 0..65536", s.Seed.InboundConnections)
	}
	return nil
}

func (s *Settings) validateMain() error {
	if !networkRE.MatchString(s.Network) {
		return errf("network", "%s is not a valid network id (want ^[a-z0-9][a-z0-9._-]{0,63}$)", quote(s.Network))
	}
	if s.Datastore == "" {
		return errf("datastore", "must be set (no default: home directory unknown)")
	}
	if err := checkListen(s.RPCListen); err != nil {
		return errf("rpc_listen", "%s: %s", quote(s.RPCListen), err)
	}
	for i, h := range s.RPCHosts {
		if err := checkRPCHost(h); err != nil {
			return errf(indexKey("rpc_hosts", i), "%s: %s", quote(h), err)
		}
	}
	if err := checkRange("rpc_max_batch", s.RPCMaxBatch, 1, 10000); err != nil {
		return err
	}
	if err := checkRange("rpc_max_response_bytes", s.RPCMaxResponseBytes, 64<<10, 1<<30); err != nil {
		return err
	}
	if err := checkRange("rpc_max_in_flight", s.RPCMaxInFlight, 1, 4096); err != nil {
		return err
	}
	if !slices.Contains(logLevels(), s.LogLevel) {
		return errf("log_level", "%s is not one of %s", quote(s.LogLevel), strings.Join(logLevels(), ", "))
	}
	if s.AppName == "" {
		return errf("app_name", "must not be empty")
	}
	if !semverRE.MatchString(s.AppVersion) {
		return errf("app_version", "%s is not a semantic version MAJOR.MINOR.PATCH[-pre][+build]", quote(s.AppVersion))
	}
	return s.Net.validate()
}

func (n *Net) validate() error {
	if err := checkAddrs("net.inbound", n.Inbound, checkNoP2P("listen")); err != nil {
		return err
	}
	if err := checkNoDuplicates("net.inbound", n.Inbound); err != nil {
		return err
	}
	if err := checkAddrs("net.external_addrs", n.ExternalAddrs, checkNoP2P("advertised")); err != nil {
		return err
	}
	if err := checkAddrs("net.peers", n.Peers, checkPeer("peer")); err != nil {
		return err
	}
	if err := checkAddrs("net.seeds", n.Seeds, checkPeer("seed")); err != nil {
		return err
	}
	if err := checkRange("net.outbound_connections", n.OutboundConnections, 0, MaxOutboundConnections); err != nil {
		return err
	}
	if err := checkRange("net.inbound_connections", n.InboundConnections, 0, MaxInboundConnections); err != nil {
		return err
	}
	if err := checkAtLeast("net.hostlist_save_interval", n.HostlistSaveInterval, MinHostlistSaveInterval); err != nil {
		return err
	}
	if err := checkPositive("net.greylist_refinery_interval", n.GreylistRefineryInterval); err != nil {
		return err
	}
	if err := checkRange("net.known_peer_percent", n.KnownPeerPercent, 0, 100); err != nil {
		return err
	}
	for _, d := range []struct {
		key string
		val time.Duration
	}{
		{"net.time_with_no_connections", n.TimeWithNoConnections},
		{"net.outbound_peer_discovery_attempt_time", n.OutboundPeerDiscoveryAttemptTime},
		{"net.outbound_peer_discovery_cooloff_time", n.OutboundPeerDiscoveryCooloffTime},
	} {
		if err := checkPositive(d.key, d.val); err != nil {
			return err
		}
	}
	if err := checkRange("net.getaddrs_max", n.GetaddrsMax, 0, 1000); err != nil {
		return err
	}
	if n.BanPolicy != BanStrict && n.BanPolicy != BanRelaxed {
		return errf("net.ban_policy", "%s is not %q or %q", quote(string(n.BanPolicy)), BanStrict, BanRelaxed)
	}
	if err := checkPositive("net.ban_duration", n.BanDuration); err != nil {
		return err
	}
	for i, entry := range n.Blacklist {
		if err := checkBlacklistEntry(entry); err != nil {
			return errf(indexKey("net.blacklist", i), "%s: %s", quote(entry), err)
		}
	}
	if err := n.validateProxy(); err != nil {
		return err
	}
	if err := n.validateNAT(); err != nil {
		return err
	}
	return n.validateProfiles()
}

// validateNAT checks the NAT traversal keys. They are checked under
// localnet too (where they have no effect), so that a file is valid or
// not whatever localnet says.
func (n *Net) validateNAT() error {
	switch n.Reachability {
	case ReachabilityAuto, ReachabilityPublic, ReachabilityPrivate:
	default:
		return errf("net.reachability", "%s is not %q, %q or %q", quote(string(n.Reachability)),
			ReachabilityAuto, ReachabilityPublic, ReachabilityPrivate)
	}
	return checkRange("net.relay_max_reservations", n.RelayMaxReservations, 1, 4096)
}

func (n *Net) validateProfiles() error {
	names := profileNames()
	var extra []string
	for name := range n.Profiles {
		if !isProfileName(name) {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range append(names, extra...) {
		p, ok := n.Profiles[name]
		if !ok {
			continue
		}
		prefix := "net.profiles." + name
		if !isProfileName(name) {
			return errf(prefix, "unknown profile %s (want "+profileList+")", quote(name))
		}
		if err := checkPositive(prefix+".outbound_connect_timeout", p.OutboundConnectTimeout); err != nil {
			return err
		}
		if err := checkPositive(prefix+".channel_handshake_timeout", p.ChannelHandshakeTimeout); err != nil {
			return err
		}
		if err := checkPositive(prefix+".channel_heartbeat_interval", p.ChannelHeartbeatInterval); err != nil {
			return err
		}
	}
	return nil
}

func checkRange(key string, v, lo, hi int) error {
	if v < lo || v > hi {
		return errf(key, "%d is out of range %d..%d", v, lo, hi)
	}
	return nil
}

func checkPositive(key string, d time.Duration) error {
	if d <= 0 {
		return errf(key, "%s: must be positive", d)
	}
	return nil
}

// MinHostlistSaveInterval is the least net.hostlist_save_interval: every
// save encodes the whole book, and a shorter interval would only burn
// disk writes.
const MinHostlistSaveInterval = time.Second

func checkAtLeast(key string, d, least time.Duration) error {
	if d < least {
		return errf(key, "%s: must be at least %s", d, least)
	}
	return nil
}

// checkNoDuplicates refuses a list that holds the same multiaddr twice,
// naming both positions.
func checkNoDuplicates(key string, addrs []ma.Multiaddr) error {
	seen := make(map[string]int, len(addrs))
	for i, a := range addrs {
		k := a.String()
		if j, dup := seen[k]; dup {
			return errf(indexKey(key, i), "%s is listed twice (also %s)", quote(k), indexKey(key, j))
		}
		seen[k] = i
	}
	return nil
}

// checkRPCHost accepts "*", a host name or an IP address, without port or
// scheme.
func checkRPCHost(h string) error {
	switch {
	case h == "*":
		return nil
	case h == "":
		return errors.New("empty host")
	case strings.Contains(h, "://"):
		return errors.New("want a host name, not a URL")
	case strings.ContainsAny(h, " \t/@?#"):
		return errors.New("want a host name or IP address")
	}
	if _, _, err := net.SplitHostPort(h); err == nil {
		return errors.New("want a host name without port")
	}
	return nil
}

func checkListen(hostport string) error {
	if hostport == "" {
		return nil // RPC disabled
	}
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return errors.New("want host:port, or \"\" to disable")
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %s is not a number in 0..65535", quote(port))
	}
	return nil
}

// checkAddrs runs check on every address of a list, naming key[i] on error.
func checkAddrs(key string, addrs []ma.Multiaddr, check func(ma.Multiaddr) error) error {
	for i, a := range addrs {
		if len(a) == 0 {
			return errf(indexKey(key, i), "empty multiaddr")
		}
		if err := check(a); err != nil {
			return errf(indexKey(key, i), "%s: %s", quote(a.String()), err)
		}
	}
	return nil
}

func hasP2P(a ma.Multiaddr) bool {
	for _, c := range a {
		if c.Code() == ma.P_P2P {
			return true
		}
	}
	return false
}

func checkNoP2P(what string) func(ma.Multiaddr) error {
	return func(a ma.Multiaddr) error {
		if hasP2P(a) {
			return fmt.Errorf("%s address must not contain /p2p/ (the node's own peer ID is implied)", what)
		}
		return nil
	}
}

// checkPeer requires a dialable address of a named peer: a transport
// address followed by /p2p/<peer-id> as the last component. (dnode has no
// peer routing, so a bare /p2p/<peer-id> could never be dialed.)
// Upper bounds of net.outbound_connections and net.inbound_connections,
// for Validate and for changes at run time alike.
const (
	MaxOutboundConnections = 1024
	MaxInboundConnections  = 65536
)

// CheckSeedAddr checks a seed address as Validate checks net.seeds: it
// must end in /p2p/<peer-id> after a transport address.
func CheckSeedAddr(a ma.Multiaddr) error {
	if len(a) == 0 {
		return errors.New("empty multiaddr")
	}
	return checkPeer("seed")(a)
}

func checkPeer(what string) func(ma.Multiaddr) error {
	return func(a ma.Multiaddr) error {
		switch {
		case !hasP2P(a):
			return fmt.Errorf("%s address lacks /p2p/<peer-id>", what)
		case a[len(a)-1].Code() != ma.P_P2P:
			return fmt.Errorf("%s address must end in /p2p/<peer-id>", what)
		case len(a) == 1:
			return fmt.Errorf("%s address has no transport address before /p2p/<peer-id>", what)
		}
		return nil
	}
}

// checkBlacklistEntry accepts a peer ID, an IP address, a CIDR prefix, or a
// multiaddr /ip4|/ip6/<ip>[/tcp|/udp/<port>][/p2p/<peer-id>].
func checkBlacklistEntry(s string) error {
	switch {
	case s == "":
		return errors.New("empty entry")
	case strings.HasPrefix(s, "/"):
		return checkBlacklistAddr(s)
	case strings.Contains(s, "/"):
		if _, err := netip.ParsePrefix(s); err != nil {
			return fmt.Errorf("invalid CIDR prefix: %v", err)
		}
		return nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Zone() != "" {
			return errors.New("IP address must not have a zone")
		}
		return nil
	}
	if err := checkPeerID(s); err == nil {
		return nil
	}
	return errors.New("not a peer ID, IP address, CIDR prefix or multiaddr")
}

func checkBlacklistAddr(s string) error {
	const want = "blacklist multiaddr must be /ip4|/ip6/<ip>, optionally /tcp|/udp/<port>, optionally /p2p/<peer-id>"
	a, err := parseAddr(s)
	if err != nil {
		return err
	}
	i := 0
	if c := a[i].Code(); c != ma.P_IP4 && c != ma.P_IP6 {
		return errors.New(want)
	}
	i++
	if i < len(a) && (a[i].Code() == ma.P_TCP || a[i].Code() == ma.P_UDP) {
		i++
	}
	if i < len(a) && a[i].Code() == ma.P_P2P {
		i++
	}
	if i != len(a) {
		return errors.New(want)
	}
	return nil
}

// checkPeerID reports whether s is a peer ID as /p2p/ accepts it (base58
// multihash or CIDv1 libp2p-key).
func checkPeerID(s string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid peer ID: %v", r)
		}
	}()
	_, err = ma.NewComponent("p2p", s)
	return err
}

// Validate checks the [relay] table's ranges and returns the first
// problem as an *Error naming its key.
func (r *Relay) Validate() error {
	for i, t := range r.Topics {
		switch {
		case t == "" || len(t) > 256:
			return errf(indexKey("relay.topics", i), "%s: a topic is 1..256 bytes", quote(t))
		case !utf8.ValidString(t):
			return errf(indexKey("relay.topics", i), "%s is not UTF-8", quote(t))
		case slices.Contains(r.Topics[:i], t):
			return errf(indexKey("relay.topics", i), "%s is listed twice", quote(t))
		}
	}
	for _, c := range []struct {
		key       string
		v, lo, hi int
	}{
		{"relay.max_message_size", r.MaxMessageSize, 1, 256 << 20},
		{"relay.eager_max_size", r.EagerMaxSize, 1, 256 << 20},
		{"relay.history_count", r.HistoryCount, 1, 1 << 24},
		{"relay.history_bytes", r.HistoryBytes, 1, 1 << 40},
		{"relay.max_hops", r.MaxHops, 1, 255},
		{"relay.meter_messages", r.MeterMessages, 1, 1 << 30},
		{"relay.meter_bytes", r.MeterBytes, 1, 1 << 40},
		{"relay.reject_limit", r.RejectLimit, 1, 1 << 30},
		{"relay.unknown_limit", r.UnknownLimit, 1, 1 << 30},
		{"relay.queue_bytes", r.QueueBytes, 0, 1 << 40},
	} {
		if err := checkRange(c.key, c.v, c.lo, c.hi); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"relay.history_age", r.HistoryAge}, {"relay.lazy_interval", r.LazyInterval}, {"relay.meter_window", r.MeterWindow}} {
		if err := checkPositive(d.key, d.v); err != nil {
			return err
		}
	}
	return nil
}
