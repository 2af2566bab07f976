// Package rpc is dnode's operator interface: JSON-RPC 2.0 over HTTP, and
// over a WebSocket on the same port for subscriptions, after DarkFi's
// p2p.get_info, dnet.switch and dnet.subscribe_events.
//
// # Endpoints
//
//	POST /         one JSON-RPC message (a request, a notification or a batch)
//	GET  /ws       WebSocket upgrade: every text message is a JSON-RPC message,
//	               answered on the socket; subscriptions push notifications there
//	GET  /metrics  Config.Metrics (Prometheus), when set
//	GET  /         the web view's page (internal/webui), and its files under
//	               /web/: no token needed (see Access)
//
// A server is built with New, bound with Start and stopped with Close:
//
//	srv, err := rpc.New(rpc.Config{Node: n, Listen: "127.0.0.1:26660"})
//	if err := srv.Start(ctx); err != nil { ... } // the bind error
//	defer srv.Close()
//
// Client is the matching client: Call over HTTP, Dial for a WebSocket
// connection with Call and Subscribe.
//
// # Methods
//
// Params are positional (a JSON array; absent or null for none).
//
//	ping                                  → "pong"
//	p2p.get_info [offset, limit]          → Info {peer_id, network, app_version, addrs,
//	                                        external_addrs, channels: [{id, peer_id, addr,
//	                                        session, direction, start_time, rtt_ms, relayed,
//	                                        bytes_in, bytes_out, msgs_in, msgs_out}],
//	                                        outbound_slots, channels_total, outbound_connections,
//	                                        inbound_connections, seeds, reachability,
//	                                        reachable_addrs, relayed}
//	p2p.get_hosts [offset, limit]         → Hosts {grey, white, gold, dark, black}:
//	                                        lists of {addr, last_seen}, each paged
//	p2p.add_peer [multiaddr]              → true: a manual peer (multiaddr with /p2p/)
//	p2p.remove_peer [multiaddr]           → whether it was a manual peer
//	p2p.set_outbound_slots [n]            → {outbound_connections: n}: slots changed now
//	p2p.set_inbound_limit [n]             → {inbound_connections: n}: the cap changed now
//	p2p.add_seed [multiaddr]              → {added: multiaddr}: a seed from now on
//	p2p.remove_seed [multiaddr]           → {removed: multiaddr}
//	p2p.get_seeds [offset, limit]         → [multiaddr]: the seeds now
//	p2p.ban [peer_id | multiaddr, secs]   → true; secs optional, 0 or absent means the
//	                                        configured ban_duration; a multiaddr with
//	                                        /p2p/ names the peer and its address
//	dnet.switch [bool]                    → true: per-message events (send, recv) on/off
//	dnet.subscribe_events                 → subscription id (WebSocket only); then
//	                                        notifications {"jsonrpc":"2.0",
//	                                        "method":"dnet.subscribe_events","params":[Event]}
//	dchat.send [text]                     → the ChatMessage sent
//	dchat.recv [limit, offset]            → [ChatMessage] oldest first: the newest limit
//	                                        after skipping the newest offset
//	dchat.subscribe                       → subscription id (WebSocket only); then
//	                                        notifications "dchat.subscribe" with [ChatMessage]
//
// # Pagination
//
// Every list method takes offset (default 0) and limit (0 or absent: the
// maximum, MaxPageLimit; more is -32602) among its positional params, or
// by name; without them the results are as before pagination. A method
// declares where (method.page), and the dispatcher reads and checks them
// for it, so that methods added later page the same way.
//
// Lists are never null. start_time and last_seen are unix seconds, rtt_ms
// the last ping round trip in milliseconds (0 before the first pong).
// Event is DarkFi's {"event": kind, "info": {...}}; see EventFrom. The
// dchat.* methods exist only when Config.Chat is set.
//
// A subscription's response is sent before its first notification. A
// connection holds one subscription per method (subscribing again returns
// the same id); subscriptions end when the connection closes. Over plain
// HTTP the subscription methods fail with -32000 and a message naming
// the /ws endpoint. A subscriber that reads too slowly loses the oldest
// events (the node's event bus keeps 1024 per subscriber); a socket that
// cannot take a write for 10 s is closed.
//
// # Errors
//
//	-32700  the message is not valid JSON (id null)
//	-32600  not a valid request: not an object, "jsonrpc" not "2.0", no method,
//	        bad id or params, an empty batch or one over MaxBatch requests
//	-32601  unknown method (and dchat.* without a chat)
//	-32602  wrong params; the message names the method, its params and what is wrong,
//	        e.g. "p2p.add_peer [multiaddr]: params[0] "x" is not a multiaddr: ..."
//	-32603  internal error (a method panicked; the server keeps running)
//	-32000  the node refused or failed: not running, peer already added,
//	        cannot ban ourselves, seed already added or not a seed, a shared
//	        host's inbound cap, a chat error, a subscription over HTTP
//	-32001  the reply would exceed Config.MaxResponse (default 4 MiB); in a
//	        batch, the requests left when the budget ran out are not run
//	-32002  busy: Config.MaxInFlight (default 16) messages are being served;
//	        over HTTP with status 503 and Retry-After
//
// A request body over Config.MaxBody (default 1 MiB) is answered with HTTP
// 413 and a -32600 error object (id null) in the body; the client may
// instead see the connection closed if it is still writing the body. A
// WebSocket message over MaxBody closes that socket with close code 1009.
// The server keeps serving in both cases.
//
// # Access
//
// Listen must be a loopback address (127.0.0.0/8, ::1, localhost) unless
// AuthToken is set; New refuses anything else. With a token, every HTTP
// request and WebSocket upgrade, and /metrics unless MetricsPublic, must
// carry "Authorization: Bearer <token>" (401 otherwise). `dnode run` sets
// a random token per start and writes it to <datastore>/rpc.cookie
// (WriteCookie; clients use ReadCookie). A browser cannot set headers on
// a WebSocket: an upgrade may instead offer the subprotocols WSProtocol
// and WSTokenPrefix+token; the server then selects WSProtocol. The web
// view's page and files (GET / and GET /web/...) need no token: they are
// the same bytes for every node, hold no data, and let a browser load the
// page that then calls the RPC with the token (from the URL's fragment).
// Protect puts these checks in front of another server of the operator's
// (dnode devnet's page).
//
// Checked first, with or without a token: the Host header must name
// localhost, a loopback IP, the listen host (any IP literal when listening
// on an unspecified address) or one of Config.Hosts ("*": any), else 403
// (DNS rebinding); a request with an Origin header (a browser) is served
// only when the Origin's host passes the same check, else 403, on HTTP and
// on the WebSocket upgrade. At most MaxConns WebSocket connections are
// open at once.
//
// # Why no library
//
// The server is a small implementation over net/http and
// github.com/gorilla/websocket (already a dependency of go-libp2p). The
// candidate, github.com/creachadair/jrpc2 with its jhttp bridge, did not
// fit cleanly: the bridge answers malformed JSON with HTTP 500 and plain
// text rather than -32700, cannot push notifications to HTTP or
// WebSocket clients (its docs say so), and gives no way to send a
// subscription's response before its first notification; wrapping it
// for each of these would have been more code than the protocol itself,
// and it would have raised golang.org/x/mod, x/sync and x/tools for the
// whole module.
package rpc
