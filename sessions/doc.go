// Package sessions turns libp2p connections into dnode channels and owns
// the session kinds that create them (DarkFi's sessions).
//
// The Manager is the per-network core: it runs the version handshake on
// new connections (as initiator in Connect, as responder in the inbound
// session's stream handler), attaches the registry's protocols, keeps the
// table of channels (at most one per peer), serves incoming protocol
// streams, and applies the ban policy to violations.
//
// # One channel per peer
//
// A node does not dial a peer it has a channel with, and refuses a second
// handshake in the same direction while one runs. Handshakes are never
// aborted because of another one: when a handshake completes for a peer
// that already has a channel, both peers apply the same rule to the pair
// and keep the same channel. The new channel replaces the old one if the
// same side opened both (it considers the old one gone); otherwise the one
// opened by the smaller peer ID wins. The rule (keepNew) reads only the two
// initiators, known to both sides, never a clock. The loser is closed with
// ErrDuplicate, which sessions treat as "already connected", not as a
// failure of the peer.
//
// The policies (which host a slot may take, which handshakes are admitted,
// which of two channels survives) are pure functions in decide.go, each
// with its table in decide_test.go; the sessions are drivers over them.
//
// Streams carry no channel identity, so a connection carries at most one
// handshake: Connect on a connection the peer opened waits for the peer's
// handshake on it instead of starting a second one, and when both sides
// start one on the same connection at the same moment, the responder
// whose peer ID is smaller refuses the other's, whose initiator then
// takes the channel the surviving handshake makes. A peer's protocol
// stream goes to the peer's registered channel on that connection,
// waiting for a running handshake to resolve first. (Separate TCP
// connections stay separate: the host dials without SO_REUSEPORT, so
// simultaneous dials are not merged into one TCP simultaneous open.)
//
// # Sessions in this package
//
//   - inbound: the responder side of the handshake for connections that
//     reach this node's listeners (the listeners and the hard inbound cap
//     belong to package host). The Manager is the host's
//     host.EvictionSource: it lists its inbound channels for inbound
//     eviction and stops the one evicted with ErrEvicted (evict.go);
//   - manual: one slot per configured peer, reconnecting forever with
//     capped exponential backoff plus jitter.
//
// Outbound, seed-sync, refine and direct sessions use Manager.Connect with
// their own session kind.
//
// # Relayed connections
//
// On a host with NAT traversal a channel may run over a relayed (circuit
// v2, "limited") connection; its streams are opened with libp2p's
// permission for limited connections, only on such connections. When a
// direct connection to the peer opens (hole punching), the side that
// opened the channel handshakes again on it and the new channel replaces
// the relayed one (limited.go).
package sessions
