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
// When both peers start a handshake with each other at the same time, the
// handshake initiated by the peer with the smaller peer ID wins on both
// sides; the other is aborted and its initiator gets ErrDuplicate, which
// sessions treat as "already connected", not as a failure of the peer.
// A handshake from a peer that already has a channel is refused.
//
// # Sessions in this package
//
//   - inbound: the responder side of the handshake for connections that
//     reach this node's listeners (the listeners and the hard inbound cap
//     belong to package host);
//   - manual: one slot per configured peer, reconnecting forever with
//     capped exponential backoff plus jitter.
//
// Outbound, seed-sync, refine and direct sessions use Manager.Connect with
// their own session kind.
package sessions
