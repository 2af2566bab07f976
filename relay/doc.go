// Package relay carries an application's messages to every node of a
// dnode network, each message once per node, along epidemic broadcast
// trees (Plumtree: Leitão, Pereira and Rodrigues, SRDS 2007), with
// catch-up for nodes that were away.
//
// A Relay is a protocol registered on a *dnode.Node before it starts
// (stream /dnode/<network>/relay/1.0.0). Its API follows
// go-libp2p-pubsub's: Join a topic, Publish bytes, Subscribe, set a
// Validator, read Stats.
//
//	r, _ := relay.New(node, relay.Config{}, nil)
//	t, _ := r.Join("chat")
//	sub, _ := t.Subscribe()
//	_ = node.Start(ctx)
//	id, _ := t.Publish(ctx, []byte("hello"))
//	m, _ := sub.Next(ctx) // our own message first (Local), then the network's
//
// By default a node relays every topic of its network (DarkFi's model:
// the network is the app); Config.Topics restricts it.
//
// # How messages travel
//
// A message's id is the SHA-256 of its topic, origin, time and data. Each
// (topic, origin) pair has its own tree. A node pushes a new message in
// full on the tree's eager links and announces its id (batched, IHave) on
// the others. A duplicate arriving on a link prunes that link from the
// tree; an announced message that does not arrive along the tree within
// a few RTTs is fetched from the announcer, whose link is grafted into
// the tree. An announcement showing a path two or more hops shorter
// moves the tree to it. The first message of an origin floods, and the
// duplicates it causes shape the tree; after that each node gets one
// copy. Messages larger than Config.EagerMaxSize are never pushed: they
// are offered on every link and fetched from one offerer at a time, so
// that no large message crosses a link twice.
//
// Each node keeps a bounded history (Config.HistoryCount, HistoryAge,
// HistoryBytes). On a new channel the two sides send digests of their
// recent ids and fetch what they lack, so a node that was away for less
// than HistoryAge catches up within moments of reconnecting.
//
// # Limits
//
// Relays use their own bounded queues (Config.QueueBytes per channel),
// not the node's broadcast limit. Each channel's unasked frames are
// metered (MeterMessages and MeterBytes per MeterWindow); validator
// rejections, fetches of unknown messages and unhonoured announcements
// are counted per window; past any limit the peer is in violation and
// goes through the node's ban policy. Every drop is counted by reason
// (Stats.Dropped) and published as a relay_drop event.
//
// docs/protocol.md specifies the wire format and rules in full.
//
// # Concurrency
//
// The protocol state machine (engine) is pure: it does no I/O and reads
// no clock. The Relay drives it under one lock from the channels' reader
// goroutines and one timer; validators run outside the lock, on the
// reader goroutine of the channel the message came on.
package relay
