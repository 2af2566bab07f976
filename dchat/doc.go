// Package dchat is a chat application protocol for dnode, DarkFi's dchat
// (example/dchat) extended to reach the whole network: a message written
// on one node is delivered exactly once by every node connected to it
// directly or through other nodes.
//
// # Use
//
// Build a dnode.Node, attach a Chat to it with New before the node
// starts, then Send lines and read them with Recv or Subscribe:
//
//	n, _ := dnode.New(s)
//	chat, err := dchat.New(n, dchat.Config{})
//	...
//	n.Start(ctx)
//	chat.Send("hello")
//	sub := chat.Subscribe(0)
//	for m := range sub.C() { fmt.Println(m.Sender, m.Text) }
//
// New registers the protocol on n.Registry() exactly as a library user
// registers theirs (protocols.Registration with channel.Default
// sessions); dchat has no special access to the node. A Chat outlives
// restarts of its node: its buffer, seen-cache and subscriptions are
// kept.
//
// # Protocol
//
// The stream protocol is /dnode/<network>/dchat/1.0.0 and carries
// DchatMessage (dchat.proto): a random 16-byte id, the sender's peer ID,
// the text, the sender's clock in unix seconds and a hop count. A frame
// is at most MaxText + 256 bytes. There is no receive metering, as in
// DarkFi's dchat: a peer flooding valid messages is only bounded by the
// channel's queues (relays that do not fit a peer's send queue are
// dropped and counted by the channel).
//
// Send gives a message a fresh id, records the id in the seen-cache,
// keeps the message in the buffer (Hops 0) and broadcasts it to every
// channel. A node receiving a message:
//
//  0. drops it undecoded if the id field of its encoding is in the
//     seen-cache (Stats.Duplicates): in a flood most frames are such
//     copies, one per neighbour, and this keeps their cost to a lookup
//     (a copy is therefore not validated);
//  1. validates it: an id that is not 16 bytes, a sender that is not a
//     peer ID, a text longer than MaxText or not UTF-8 is a protocol
//     violation (the channel stops and the ban policy applies); a hop
//     count above MaxHops is not a violation, the message is dropped
//     (Stats.Rejected);
//  2. drops it if its id is in the seen-cache, or if the sender is this
//     node (Stats.Duplicates);
//  3. drops it if its timestamp is older than SeenTTL or more than one
//     minute ahead of the local clock (Stats.Expired), so that a message
//     cannot be replayed once its id has left the seen-cache;
//  4. otherwise records the id, relays the message with hops+1 to every
//     channel except the one it came from if hops+1 < MaxHops
//     (Stats.Relayed counts messages relayed to at least one channel),
//     then delivers it (buffer and subscribers, Stats.Delivered).
//
// A seen-cache entry lives until SeenTTL after the later of its receipt
// and its timestamp, so a message accepted up to a minute early cannot
// be replayed in the gap. The cache holds at most SeenMax ids; the
// oldest are evicted first.
//
// Sender and hop count are not authenticated: any peer can claim any
// sender, as in DarkFi's dchat, which has no sender at all.
//
// # Concurrency
//
// Received messages are handled in the channel's stream reader goroutine
// (Protocol.Handle) without blocking: delivery to subscribers drops the
// oldest queued message of a full subscription, and relaying queues on
// each channel without waiting. Chat starts no goroutine. All methods
// are safe for concurrent use.
package dchat
