// Package memnet is an in-process network of stream connections for
// go-libp2p hosts, made for simulations of many nodes in one process
// (integration/sim): a transport.Transport whose listeners and dials meet
// in a Network instead of the kernel, with a fixed one-way latency and
// addresses of the form /ip4/A.B.C.D/tcp/PORT, so that address books,
// netgroups and transport profiles treat them as TCP.
//
// The raw connections are upgraded (security and stream muxer) by the
// upgrader go-libp2p hands the transport's constructor, as the TCP
// transport does; memnet itself starts no goroutines. Time is read only
// through the time package and waits use timers, never polling, so a
// Network runs on testing/synctest's fake clock when it is built inside
// the bubble (latency then costs no real time).
//
// Model: each direction of a connection is a queue of written segments,
// each readable once its latency has passed. Writes never block: there is
// no bandwidth model and no send buffer limit (the stream muxer's flow
// control bounds what is in flight). Dialling takes one round trip and is
// refused (ErrRefused) when nobody listens on the address. Close wakes
// blocked readers (net.ErrClosed); the peer reads what was sent, then
// io.EOF one latency later, and its writes fail (ErrReset).
// Deadlines wake blocked readers with os.ErrDeadlineExceeded.
//
// All types are safe for concurrent use.
package memnet
