// Package dnode is a Go reimplementation of DarkFi's P2P network layer on
// go-libp2p: nodes that find each other through seeds, keep verified
// peers in an address book, fill outbound slots, keep channels alive and
// carry application protocols.
//
// A Node is built from settings.Settings with New, started with Start
// (which binds the listeners) and stopped with Stop. Applications register
// their protocols on Registry() before Start, exactly as the built-in
// protocols are registered, and send to every channel with Broadcast.
// Info returns a snapshot of the node (channels, slots, seeds,
// reachability). The operator's controls (run-time changes of the slots
// and seeds, manual peers, timed bans) are on the handle Node.Admin
// returns; the RPC server's p2p.* methods call them.
//
//	s := settings.Default()
//	s.Network = "dchat"
//	n, err := dnode.New(s)
//	...
//	n.Registry().Register(myProtocol)
//	if err := n.Start(ctx); err != nil { ... }
//	defer n.Stop()
//
// The packages below dnode hold the parts: host (libp2p host, gater,
// limits), channel (channels, streams, subscriptions), protocols (the
// registry and the built-in protocols), sessions (handshakes and session
// kinds) and settings.
package dnode
