package settings

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// kind is the value shape of a setting; Set uses it to read a flag string.
type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
	kindDuration
	kindList
)

// slot stores one decoded TOML value (see the as* helpers) into a setting.
// key is the name to report errors under.
type slot struct {
	kind kind
	set  func(key string, v any) error
}

type entry struct {
	key  string
	slot slot
}

// entries lists every settable key of s, in the order of default.toml, with
// a slot writing into s. It is the single table behind Load, Set and Keys.
func (s *Settings) entries() []entry {
	n := &s.Net
	e := []entry{
		{"network", stringSlot(&s.Network)},
		{"datastore", pathSlot(&s.Datastore)},
		{"rpc_listen", stringSlot(&s.RPCListen)},
		{"rpc_hosts", stringsSlot(&s.RPCHosts)},
		{"metrics_public", boolSlot(&s.MetricsPublic)},
		{"rpc_max_batch", intSlot(&s.RPCMaxBatch)},
		{"rpc_max_response_bytes", intSlot(&s.RPCMaxResponseBytes)},
		{"rpc_max_in_flight", intSlot(&s.RPCMaxInFlight)},
		{"log_level", stringSlot(&s.LogLevel)},
		{"net.inbound", addrsSlot(&n.Inbound)},
		{"net.external_addrs", addrsSlot(&n.ExternalAddrs)},
		{"net.peers", addrsSlot(&n.Peers)},
		{"net.seeds", addrsSlot(&n.Seeds)},
		{"net.outbound_connections", intSlot(&n.OutboundConnections)},
		{"net.inbound_connections", intSlot(&n.InboundConnections)},
		{"net.localnet", boolSlot(&n.Localnet)},
		{"net.hostlist", pathSlot(&n.Hostlist)},
		{"net.hostlist_save_interval", durationSlot(&n.HostlistSaveInterval)},
		{"net.greylist_refinery_interval", durationSlot(&n.GreylistRefineryInterval)},
		{"net.known_peer_percent", intSlot(&n.KnownPeerPercent)},
		{"net.disable_greys", boolSlot(&n.DisableGreys)},
		{"net.time_with_no_connections", durationSlot(&n.TimeWithNoConnections)},
		{"net.outbound_peer_discovery_attempt_time", durationSlot(&n.OutboundPeerDiscoveryAttemptTime)},
		{"net.outbound_peer_discovery_cooloff_time", durationSlot(&n.OutboundPeerDiscoveryCooloffTime)},
		{"net.getaddrs_max", intSlot(&n.GetaddrsMax)},
		{"net.ban_policy", banPolicySlot(&n.BanPolicy)},
		{"net.ban_duration", durationSlot(&n.BanDuration)},
		{"net.blacklist", stringsSlot(&n.Blacklist)},
		{"net.proxy", stringSlot(&n.Proxy)},
		{"net.tor_control", stringSlot(&n.TorControl)},
		{"net.tor_control_password", stringSlot(&n.TorControlPassword)},
		{"net.autonat", boolSlot(&n.AutoNAT)},
		{"net.reachability", reachabilitySlot(&n.Reachability)},
		{"net.hole_punching", boolSlot(&n.HolePunching)},
		{"net.nat_portmap", boolSlot(&n.NATPortMap)},
		{"net.relay_service", boolSlot(&n.RelayService)},
		{"net.relay_max_reservations", intSlot(&n.RelayMaxReservations)},
	}

	for _, name := range profileNames() {
		prefix := "net.profiles." + name + "."
		e = append(e,
			entry{prefix + "outbound_connect_timeout", n.profileSlot(name, func(p *Profile) *time.Duration { return &p.OutboundConnectTimeout })},
			entry{prefix + "channel_handshake_timeout", n.profileSlot(name, func(p *Profile) *time.Duration { return &p.ChannelHandshakeTimeout })},
			entry{prefix + "channel_heartbeat_interval", n.profileSlot(name, func(p *Profile) *time.Duration { return &p.ChannelHeartbeatInterval })},
		)
	}
	r := &s.Relay
	e = append(e,
		entry{"relay.topics", stringsSlot(&r.Topics)},
		entry{"relay.max_message_size", intSlot(&r.MaxMessageSize)},
		entry{"relay.eager_max_size", intSlot(&r.EagerMaxSize)},
		entry{"relay.history_count", intSlot(&r.HistoryCount)},
		entry{"relay.history_age", durationSlot(&r.HistoryAge)},
		entry{"relay.history_bytes", intSlot(&r.HistoryBytes)},
		entry{"relay.lazy_interval", durationSlot(&r.LazyInterval)},
		entry{"relay.max_hops", intSlot(&r.MaxHops)},
		entry{"relay.meter_window", durationSlot(&r.MeterWindow)},
		entry{"relay.meter_messages", intSlot(&r.MeterMessages)},
		entry{"relay.meter_bytes", intSlot(&r.MeterBytes)},
		entry{"relay.reject_limit", intSlot(&r.RejectLimit)},
		entry{"relay.unknown_limit", intSlot(&r.UnknownLimit)},
		entry{"relay.queue_bytes", intSlot(&r.QueueBytes)},
	)
	return append(e,
		entry{"seed.networks", stringsSlot(&s.Seed.Networks)},
		entry{"seed.whitelist_refinery_interval", durationSlot(&s.Seed.WhitelistRefineryInterval)},
		entry{"seed.inbound_connections", intSlot(&s.Seed.InboundConnections)},
	)
}

// Keys returns every key accepted by Set (and in the TOML file), as dotted
// TOML paths in the order of default.toml. A CLI can use it to list or
// register its flags.
func Keys() []string {
	var s Settings
	e := s.entries()
	keys := make([]string, len(e))
	for i, en := range e {
		keys[i] = en.key
	}
	return keys
}

func (s *Settings) slot(key string) (slot, bool) {
	for _, en := range s.entries() {
		if en.key == key {
			return en.slot, true
		}
	}
	return slot{}, false
}

// Set sets one key, named by its dotted TOML path ("network",
// "net.outbound_connections", "net.profiles.tcp.channel_heartbeat_interval"),
// from a string, as a command-line flag would. Integers are decimal; bools
// are true or false; durations are integer seconds or a Go duration string,
// as in TOML; list keys take a comma-separated value whose elements are
// trimmed, empty elements are skipped, and "" is the empty list. A list
// replaces the previous value. A leading "~/" in datastore and net.hostlist
// is replaced by the home directory, as in TOML. Like Load, Set checks types and syntax
// (multiaddrs, durations) but not ranges: call Validate afterwards. On error
// s is unchanged and the *Error names key. Profile keys write into the
// Net.Profiles map in place: Clone a Settings before setting keys on a copy
// that shares its map.
func (s *Settings) Set(key, value string) error {
	sl, ok := s.slot(key)
	if !ok {
		if rest, isProfile := strings.CutPrefix(key, "net.profiles."); isProfile {
			if name, _, _ := strings.Cut(rest, "."); !isProfileName(name) {
				return errf(key, "unknown profile %s (want "+profileList+")", quote(name))
			}
		}
		return errf(key, "unknown key")
	}
	v, err := fromFlag(sl.kind, value)
	if err != nil {
		return errf(key, "%s", err)
	}
	return sl.set(key, v)
}

// fromFlag turns a flag string into the value TOML would have decoded for
// the same setting, so that Set and Load share conversions and messages.
func fromFlag(k kind, value string) (any, error) {
	switch k {
	case kindInt:
		n, err := strconv.ParseInt(value, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, errors.New("integer " + quote(value) + " is out of range")
		}
		if err != nil {
			return value, nil // asInt reports the type error
		}
		return n, nil
	case kindBool:
		switch value {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return value, nil
	case kindList:
		out := []any{}
		for _, part := range strings.Split(value, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out, nil
	default: // strings; durations parse strings of digits as seconds
		return value, nil
	}
}

func stringSlot(p *string) slot {
	return slot{kindString, func(key string, v any) error {
		str, err := asString(key, v)
		if err == nil {
			*p = str
		}
		return err
	}}
}

// pathSlot is stringSlot with a leading "~" or "~/" replaced by the home
// directory (when it is known), as DarkFi's expand_path does.
func pathSlot(p *string) slot {
	return slot{kindString, func(key string, v any) error {
		str, err := asString(key, v)
		if err == nil {
			*p = expandHome(str)
		}
		return err
	}}
}

func expandHome(path string) string {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return path
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return path
	}
	return filepath.Join(home, path[1:])
}

func banPolicySlot(p *BanPolicy) slot {
	return slot{kindString, func(key string, v any) error {
		str, err := asString(key, v)
		if err == nil {
			*p = BanPolicy(str)
		}
		return err
	}}
}

func reachabilitySlot(p *Reachability) slot {
	return slot{kindString, func(key string, v any) error {
		str, err := asString(key, v)
		if err == nil {
			*p = Reachability(str)
		}
		return err
	}}
}

func intSlot(p *int) slot {
	return slot{kindInt, func(key string, v any) error {
		n, err := asInt(key, v)
		if err == nil {
			*p = n
		}
		return err
	}}
}

func boolSlot(p *bool) slot {
	return slot{kindBool, func(key string, v any) error {
		b, err := asBool(key, v)
		if err == nil {
			*p = b
		}
		return err
	}}
}

func durationSlot(p *time.Duration) slot {
	return slot{kindDuration, func(key string, v any) error {
		d, err := asDuration(key, v)
		if err == nil {
			*p = d
		}
		return err
	}}
}

func stringsSlot(p *[]string) slot {
	return slot{kindList, func(key string, v any) error {
		strs, err := asStrings(key, v)
		if err == nil {
			*p = strs
		}
		return err
	}}
}

func addrsSlot(p *[]ma.Multiaddr) slot {
	return slot{kindList, func(key string, v any) error {
		addrs, err := asAddrs(key, v)
		if err == nil {
			*p = addrs
		}
		return err
	}}
}

// profileSlot sets one duration of profile name, starting from the current
// profile (or the default one) so that other fields keep their values.
func (n *Net) profileSlot(name string, field func(*Profile) *time.Duration) slot {
	return slot{kindDuration, func(key string, v any) error {
		d, err := asDuration(key, v)
		if err != nil {
			return err
		}
		p := n.Profile(name)
		*field(&p) = d
		if n.Profiles == nil {
			n.Profiles = make(map[string]Profile, 3)
		}
		n.Profiles[name] = p
		return nil
	}}
}
