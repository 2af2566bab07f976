package host

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// NAT says which of go-libp2p's NAT traversal parts a host runs. A nil
// *NAT in Config (localnet, simulations) keeps the host as on a LAN: the
// relay transport off and none of the parts below.
type NAT struct {
	// AutoNAT runs AutoNAT v2 (client and server: confirms which of our
	// addresses peers can dial) and, unless Reachability is Private, the
	// AutoNAT v1 service (go-libp2p's host reachability, which AutoRelay
	// and the relay service follow, comes from v1 probes; the v1 client
	// always runs).
	AutoNAT bool
	// Reachability, when Public or Private, forces the host's
	// reachability instead of learning it; Unknown means learn it.
	Reachability network.Reachability
	// HolePunching runs DCUtR on relayed connections.
	HolePunching bool
	// PortMap asks the router for port mappings (UPnP IGD, NAT-PMP).
	PortMap bool
	// RelayService serves circuit relay v2 (libp2p's default limits: 2
	// minutes and 128 KiB per circuit) while the host is public, to
	// members only (see Member).
	RelayService bool
	// RelayMaxReservations caps the reservations held for others.
	RelayMaxReservations int
	// Member reports whether a peer belongs to our network (has a
	// channel with us): only members get relay reservations and circuits,
	// and only members are AutoRelay candidates. nil means no peer is a
	// member. It must be safe for concurrent use and must not block.
	Member func(peer.ID) bool
}

// AutoRelay pacing: how often the relay finder asks for candidates and
// how long it leaves a relay that refused a reservation alone (libp2p's
// one hour is long for a member-only relay that refused us because our
// channel was not up yet).
const (
	autoRelayMinInterval = 10 * time.Second
	autoRelayBackoff     = time.Minute
)

// natOptions returns the libp2p options for cfg (nil: the relay
// transport off, nothing else). built is filled in once libp2p built the
// host; AutoRelay's peer source reads it.
func natOptions(cfg *NAT, built *atomic.Pointer[host.Host]) []libp2p.Option {
	if cfg == nil {
		return []libp2p.Option{libp2p.DisableRelay()}
	}
	opts := []libp2p.Option{libp2p.EnableRelay()}
	if cfg.AutoNAT {
		opts = append(opts, libp2p.EnableAutoNATv2())
		if cfg.Reachability != network.ReachabilityPrivate {
			// libp2p runs no v1 service while private anyway, and with
			// reachability forced private it never closes the service's
			// dialer (a leak), so it is not built.
			opts = append(opts, libp2p.EnableNATService())
		}
	}
	switch cfg.Reachability {
	case network.ReachabilityPublic:
		opts = append(opts, libp2p.ForceReachabilityPublic())
	case network.ReachabilityPrivate:
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	}
	if cfg.Reachability != network.ReachabilityPublic {
		opts = append(opts, autoRelayOption(cfg, built))
	}
	if cfg.HolePunching {
		opts = append(opts, libp2p.EnableHolePunching())
	}
	if cfg.PortMap {
		opts = append(opts, libp2p.NATPortMap())
	}
	if cfg.RelayService {
		opts = append(opts, relayServiceOption(cfg))
	}
	return opts
}

// reachabilityHost is what go-libp2p's basic host offers about
// reachability (AutoNAT v1's verdict, AutoNAT v2's confirmed addresses).
type reachabilityHost interface {
	Reachability() network.Reachability
	ConfirmedAddrs() (reachable, unreachable, unknown []ma.Multiaddr)
}

// Reachability returns the host's reachability: forced by
// NAT.Reachability, learnt through AutoNAT, or Unknown (also without NAT
// traversal).
func (h *Host) Reachability() network.Reachability {
	if h.nat == nil {
		return network.ReachabilityUnknown
	}
	if rh, ok := h.Host.(reachabilityHost); ok {
		return rh.Reachability()
	}
	return network.ReachabilityUnknown
}

// NATEnabled reports whether the host runs NAT traversal (Config.NAT).
func (h *Host) NATEnabled() bool { return h.nat != nil }

// ReachableAddrs returns the addresses AutoNAT v2 confirmed reachable
// (nil without AutoNAT).
func (h *Host) ReachableAddrs() []ma.Multiaddr {
	if h.nat == nil || !h.nat.AutoNAT {
		return nil
	}
	rh, ok := h.Host.(reachabilityHost)
	if !ok {
		return nil
	}
	reachable, _, _ := rh.ConfirmedAddrs()
	return reachable
}

// RelayAddrs returns our circuit addresses (/…/p2p/<relay>/p2p-circuit)
// among the host's addresses: AutoRelay put them there because we hold a
// reservation on those relays.
func (h *Host) RelayAddrs() []ma.Multiaddr {
	if h.nat == nil {
		return nil
	}
	return slices.DeleteFunc(h.Addrs(), func(a ma.Multiaddr) bool { return !IsCircuit(a) })
}

// AdvertisedAddrs returns the addresses to advertise to peers, without
// /p2p/<our id>, given the configured external addresses:
//   - without NAT traversal, without AutoNAT, or with reachability forced
//     public: external if set, else the host's addresses (the rule of a
//     LAN node, unchanged);
//   - otherwise: external, the public addresses AutoNAT v2 confirmed, and
//     our circuit addresses while we are not public, each once (possibly
//     none, until AutoNAT confirmed something).
//
// Private and loopback addresses of the host never pass the second rule,
// so a NATed node advertises only what a peer can dial.
func (h *Host) AdvertisedAddrs(external []ma.Multiaddr) []ma.Multiaddr {
	if h.nat == nil || !h.nat.AutoNAT || h.nat.Reachability == network.ReachabilityPublic {
		if len(external) > 0 {
			return external
		}
		return h.Addrs()
	}
	return advertised(external, h.ReachableAddrs(), h.Addrs(), h.Reachability())
}

// advertised is AdvertisedAddrs' rule for a host with AutoNAT: external
// addresses, then confirmed ones, then (unless public) the circuit
// addresses among all, each once.
func advertised(external, confirmed, all []ma.Multiaddr, r network.Reachability) []ma.Multiaddr {
	out := make([]ma.Multiaddr, 0, len(external)+len(confirmed)+2)
	add := func(a ma.Multiaddr) {
		if !slices.ContainsFunc(out, a.Equal) {
			out = append(out, a)
		}
	}
	for _, a := range external {
		add(a)
	}
	for _, a := range confirmed {
		if manet.IsPublicAddr(a) {
			add(a)
		}
	}
	if r != network.ReachabilityPublic {
		for _, a := range all {
			if IsCircuit(a) {
				add(a)
			}
		}
	}
	return out
}

// IsCircuit reports whether a is a circuit relay address (it contains
// /p2p-circuit).
func IsCircuit(a ma.Multiaddr) bool {
	for _, c := range a {
		if c.Code() == ma.P_CIRCUIT {
			return true
		}
	}
	return false
}
