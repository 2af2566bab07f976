// Package channel implements dnode's channel: one libp2p connection to a
// peer that completed dnode's version handshake, with the session kind
// that owns it (DarkFi's Channel).
//
// # Streams
//
// Every dnode protocol is a libp2p stream protocol with ID
// /dnode/<network>/<name>/<semver> (a Spec). A channel keeps at most one
// long-lived outgoing stream per protocol, opened on the first send, and
// reads the one incoming stream the peer opened for it. Messages are
// protobuf, framed as an unsigned-varint length and the encoding (go-msgio
// pbio framing).
//
// # Sending
//
// Send never blocks on the network: it encodes the message and appends it
// to the channel's bounded send queue. A writer goroutine, running only
// while the queue is non-empty, writes queued frames in batches (one write
// per stream per batch, so frames queued together leave together) under a
// write deadline. When the queue is full the message is dropped, counted,
// and Send returns ErrQueueFull.
//
// # Receiving
//
// A frame's length is checked against its Spec's MaxBytes before any of it
// is read; once its first byte has arrived the rest must arrive within the
// frame timeout. Idle waits between frames are bounded by the channel's
// liveness, which the ping protocol enforces. An oversized, truncated or
// undecodable frame, or a peer exceeding the receive metering, is a
// violation: the channel reports it through Config.Violation (the session
// layer applies the ban policy) and stops.
//
// Decoded messages are delivered to every Subscription of their protocol.
// Each subscription has a bounded queue; when it is full the oldest queued
// message is dropped and counted (Subscription.Dropped), as DarkFi's
// Publisher does, so a slow subscriber never stalls the stream.
//
// # Lifecycle
//
// A Channel is created before the handshake so that protocols can
// subscribe early (Attach), started with Start once the handshake
// succeeded, and stopped with Stop, which is idempotent and never blocks.
// Done is closed once every goroutine of the channel (readers, writer and
// protocol jobs started with Go) has returned and the connection has been
// released. All methods are safe for concurrent use.
package channel
