// Package nodeinternal reaches a dnode.Node's machinery (its libp2p host,
// session manager, sessions, address book, current settings and counters)
// for dnode's own packages: rpc, metrics, relay, seed, cmd/dnode,
// internal/devnet, the benchmarks and the tests. It is not public API:
// applications use the Node's methods, Node.Info and Node.Admin. Each
// accessor is safe for concurrent use and answers for the running instance
// (nil or zero when the node is not running, except Book, which keeps the
// last run's book after Stop, and Settings, which answers whether running
// or not); what it returns stops working when the node stops.
package nodeinternal
