// Package host builds dnode's libp2p host and owns everything that is
// about connections rather than channels:
//
//   - the Ed25519 identity key in the datastore (identity.go);
//   - the libp2p options: TCP, QUIC-v1 and WebSocket transports, noise
//     and TLS security, yamux, identify and /ipfs/ping/1.0.0 kept on
//     (host.go);
//   - the connection gater that enforces the configured blacklist, the
//     expiring bans and the hard inbound cap (gater.go, blacklist.go);
//   - the connection tracker that counts live inbound connections, closes
//     inbound connections that never become a channel, and closes a
//     connection when the last channel using it stops (conns.go);
//   - resource-manager and connection-manager limits derived from the
//     settings (limits.go);
//   - the connection manager (ConnMgr, connmgr.go): libp2p's
//     BasicConnMgr (tags, Protect, trimming) plus inbound eviction, whose
//     choice is the pure SelectVictim (evict.go);
//   - with a proxy (Config.Proxy), a SOCKS5 transport that does every
//     dial and never resolves names (it is a transport.SkipResolver, the
//     swarm's resolver refuses all lookups), libp2p's TCP, QUIC and
//     WebSocket transports kept for listening only (proxy.go);
//   - an onion service for the TCP listener through Tor's control port
//     (Config.Onion; onion.go, torcontrol.go);
//   - NAT traversal (Config.NAT; nat.go, relay.go): AutoNAT v2 and the v1
//     service, AutoRelay fed with connected members that serve the relay
//     hop protocol, the member-only circuit relay v2 service, DCUtR hole
//     punching, UPnP/NAT-PMP, and the advertised-address rule
//     (AdvertisedAddrs). Without Config.NAT (localnet) the relay
//     transport is off and none of it runs.
//
// # Inbound cap
//
// The cap counts live inbound libp2p connections, whatever protocol they
// run, across all listeners. A connection that arrives while the cap is
// reached is refused by the gater after the security handshake (the
// dialer sees the connection closed); one that slips past the gater in a
// race is closed as soon as the swarm reports it. An inbound connection
// that has not become a dnode channel within the handshake timeout is
// closed, so idle connections cannot hold inbound slots. SetLimits
// changes the cap and the resource manager's system limits while the host
// runs; lowering the cap closes nothing, it only refuses newcomers.
//
// # Inbound eviction
//
// At the cap, an inbound newcomer that has no connection with us yet
// (Evictable) is admitted if ConnMgr.MakeRoom evicts an inbound peer:
// SelectVictim picks, by Bitcoin Core's protected classes (4 distinct
// netgroups, 8 lowest pings, 4 most recent useful relay deliveries, the
// longest-connected half), among the inbound channels of the
// EvictionSources (one per network: sessions.Manager); manual peers,
// seeds, outbound channels, handshakes in progress and anything
// protected with ConnMgr.Protect are never chosen. The victim's
// connections stop counting at once and its slot is reserved for the
// newcomer until the newcomer's connection is reported (at most the
// handshake timeout). With nobody to evict, the newcomer is refused.
//
// # Per-IP limits
//
// libp2p's resource manager stays on. Besides the scope limits derived
// from the settings it applies its own per-address limits, which dnode
// keeps at libp2p's defaults: at most 8 concurrent connections per IPv4
// address (/32) and per IPv6 /56, 64 per IPv6 /48, and new inbound
// connections limited to 0.2 per second per address after a burst of 16.
// Loopback addresses are exempt. Tests that put many nodes on non-loopback
// addresses of one machine must raise these limits (Config.PerIPLimit).
//
// A Host is safe for concurrent use. Close stops everything it started.
package host
