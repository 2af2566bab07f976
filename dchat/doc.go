// Package dchat is a chat application for dnode, DarkFi's dchat
// (example/dchat) extended to reach the whole network: a message written
// on one node is delivered exactly once by every node connected to it
// directly or through other nodes, including nodes that were away for
// less than the relay's history window.
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
// A Chat outlives restarts of its node: its buffer and subscriptions are
// kept.
//
// # Protocol
//
// dchat is a thin application on the relay (package relay): its
// messages are relay messages of topic "dchat" whose data is the text,
// UTF-8, at most MaxText bytes. The relay gives each message its id
// (from its content), origin (the sender), time and hop count, carries it
// to every node along its broadcast trees, deduplicates, meters and
// catches up. dchat's validator rejects an empty, oversized or non-UTF-8
// text, which counts against the peer that relayed it (Config.RejectLimit
// of the relay).
//
// The sender is the relay's origin, which is not authenticated: any peer
// can claim any sender, as in DarkFi's dchat, which has no sender at all.
//
// # Concurrency
//
// Messages reach the chat through the relay topic's handler, on the
// goroutine that accepted them, without blocking: delivery to
// subscribers drops the oldest queued message of a full subscription.
// Chat starts no goroutine. All methods are safe for concurrent use.
package dchat
