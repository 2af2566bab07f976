package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
)

func TestPingAndInfo(t *testing.T) {
	t.Parallel()
	s := testSettings(t)
	s.Net.OutboundConnections = 2
	n := startNode(t, s)
	srv := startServer(t, Config{Node: n})
	c := client(t, srv, "")
	ctx := t.Context()

	var pong string
	if err := c.Call(ctx, "ping", &pong); err != nil || pong != "pong" {
		t.Fatalf("ping = %q, %v", pong, err)
	}

	var info Info
	if err := c.Call(ctx, "p2p.get_info", &info); err != nil {
		t.Fatal(err)
	}
	if info.PeerID != n.ID().String() || info.Network != "test" || info.AppVersion != "0.1.0" {
		t.Errorf("info = %+v", info)
	}
	if len(info.Addrs) == 0 || !strings.Contains(info.Addrs[0], "/p2p/"+n.ID().String()) {
		t.Errorf("addrs = %v, want full multiaddrs", info.Addrs)
	}
	if len(info.Channels) != 0 || len(info.OutboundSlots) != 2 {
		t.Errorf("channels %v, outbound slots %v; want none and [0 0]", info.Channels, info.OutboundSlots)
	}

	// The raw JSON has every field, lists never null.
	_, body := post(t, srv, `{"jsonrpc":"2.0","id":"a","method":"p2p.get_info","params":[]}`)
	for _, key := range []string{`"peer_id":`, `"network":"test"`, `"app_version":`, `"addrs":[`, `"external_addrs":[`, `"channels":[]`, `"outbound_slots":[0,0]`, `"id":"a"`,
		`"reachability":"unknown"`, `"reachable_addrs":[]`, `"relayed":false`} {
		if !strings.Contains(body, key) {
			t.Errorf("get_info response lacks %s: %s", key, body)
		}
	}

	var hosts Hosts
	if err := c.Call(ctx, "p2p.get_hosts", &hosts); err != nil {
		t.Fatal(err)
	}
	_, body = post(t, srv, `{"jsonrpc":"2.0","id":1,"method":"p2p.get_hosts"}`)
	for _, key := range []string{`"grey":[]`, `"white":[]`, `"gold":[]`, `"dark":[]`, `"black":[]`} {
		if !strings.Contains(body, key) {
			t.Errorf("get_hosts response lacks %s: %s", key, body)
		}
	}
}

// Two nodes: add, list, ban and remove a manual peer over RPC, and read
// the channel and the host lists.
func TestPeersAndBan(t *testing.T) {
	t.Parallel()
	a := startNode(t, testSettings(t))
	b := startNode(t, testSettings(t))
	srv := startServer(t, Config{Node: a})
	c := client(t, srv, "")
	ctx := t.Context()
	bAddr := b.Addrs()[0].String()

	var ok bool
	if err := c.Call(ctx, "p2p.add_peer", &ok, bAddr); err != nil || !ok {
		t.Fatalf("add_peer = %v, %v", ok, err)
	}
	var info Info
	eventually(t, 10*time.Second, func() error {
		if err := c.Call(ctx, "p2p.get_info", &info); err != nil {
			return err
		}
		if len(info.Channels) != 1 || info.Channels[0].RTTMillis == 0 {
			return fmt.Errorf("channels %+v, want one with a ping RTT", info.Channels)
		}
		return nil
	})
	ch := info.Channels[0]
	if ch.PeerID != b.ID().String() || ch.Session != "manual" || ch.Direction != "outbound" ||
		ch.ID == 0 || !strings.HasPrefix(ch.Addr, "/ip4/127.0.0.1/tcp/") ||
		time.Since(time.Unix(ch.StartTime, 0)) > time.Minute {
		t.Errorf("channel = %+v", ch)
	}
	// A ping went each way: the traffic counters moved.
	if ch.BytesIn == 0 || ch.BytesOut == 0 || ch.MsgsIn == 0 || ch.MsgsOut == 0 {
		t.Errorf("channel traffic = in %d B/%d msgs, out %d B/%d msgs; want all > 0", ch.BytesIn, ch.MsgsIn, ch.BytesOut, ch.MsgsOut)
	}
	// Adding it twice is refused by the node.
	err := c.Call(ctx, "p2p.add_peer", nil, bAddr)
	var rerr *Error
	if !errors.As(err, &rerr) || rerr.Code != CodeServerError || !strings.Contains(rerr.Message, "already") {
		t.Errorf("second add_peer: %v", err)
	}

	var removed bool
	if err := c.Call(ctx, "p2p.remove_peer", &removed, bAddr); err != nil || !removed {
		t.Fatalf("remove_peer = %v, %v", removed, err)
	}
	if err := c.Call(ctx, "p2p.remove_peer", &removed, bAddr); err != nil || removed {
		t.Fatalf("second remove_peer = %v, %v; want false", removed, err)
	}

	// Ban b by full multiaddr, then by peer ID (with the default duration).
	if err := c.Call(ctx, "p2p.ban", &ok, bAddr, 60); err != nil || !ok {
		t.Fatalf("ban = %v, %v", ok, err)
	}
	var hosts Hosts
	eventually(t, 5*time.Second, func() error {
		if err := c.Call(ctx, "p2p.get_hosts", &hosts); err != nil {
			return err
		}
		for _, e := range hosts.Black {
			if strings.HasSuffix(e.Addr, "/p2p/"+b.ID().String()) && e.LastSeen > 0 {
				return nil
			}
		}
		return fmt.Errorf("black list %v lacks b", hosts.Black)
	})
	if err := c.Call(ctx, "p2p.ban", &ok, b.ID().String()); err != nil || !ok {
		t.Fatalf("ban by peer ID = %v, %v", ok, err)
	}
	if err := c.Call(ctx, "p2p.ban", nil, a.ID().String()); !errors.As(err, &rerr) || rerr.Code != CodeServerError {
		t.Errorf("banning ourselves: %v", err)
	}
}

// Every error class of the protocol, over HTTP.
func TestErrors(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	srv := startServer(t, Config{Node: n, MaxBody: 64 << 10})
	p2p := "/p2p/" + n.ID().String()

	for _, tc := range []struct {
		name, body string
		code       int
		msg        string // in the message
		id         string
	}{
		{"malformed", `{"jsonrpc":"2.0","method":`, CodeParseError, "not valid JSON", "null"},
		{"empty body", ``, CodeParseError, "not valid JSON", "null"},
		{"not an object", `42`, CodeInvalidRequest, "not a JSON object", "null"},
		{"empty batch", `[]`, CodeInvalidRequest, "empty batch", "null"},
		{"wrong version", `{"jsonrpc":"1.0","method":"ping","id":7}`, CodeInvalidRequest, `"jsonrpc" must be "2.0"`, "7"},
		{"no method", `{"jsonrpc":"2.0","id":7}`, CodeInvalidRequest, `"method"`, "7"},
		{"bad id", `{"jsonrpc":"2.0","method":"ping","id":{}}`, CodeInvalidRequest, "id must be", "null"},
		{"scalar params", `{"jsonrpc":"2.0","method":"ping","params":3,"id":7}`, CodeInvalidRequest, "params must be", "7"},
		{"unknown method", `{"jsonrpc":"2.0","method":"p2p.nope","id":"x"}`, CodeMethodNotFound, "p2p.nope", `"x"`},
		{"dchat without chat", `{"jsonrpc":"2.0","method":"dchat.send","params":["hi"],"id":1}`, CodeMethodNotFound, "dchat.send", "1"},
		{"missing param", `{"jsonrpc":"2.0","method":"p2p.add_peer","params":[],"id":1}`, CodeInvalidParams, "p2p.add_peer [multiaddr]: takes 1 param, got 0", "1"},
		{"extra param", `{"jsonrpc":"2.0","method":"ping","params":[1],"id":1}`, CodeInvalidParams, "takes no params, got 1", "1"},
		{"object params", `{"jsonrpc":"2.0","method":"dnet.switch","params":{"on":true},"id":1}`, CodeInvalidParams, "positional", "1"},
		{"not a string", `{"jsonrpc":"2.0","method":"p2p.add_peer","params":[5],"id":1}`, CodeInvalidParams, "params[0] (multiaddr) must be a string", "1"},
		{"not a multiaddr", `{"jsonrpc":"2.0","method":"p2p.add_peer","params":["nowhere"],"id":1}`, CodeInvalidParams, "is not a multiaddr", "1"},
		{"no p2p", `{"jsonrpc":"2.0","method":"p2p.remove_peer","params":["/ip4/127.0.0.1/tcp/1"],"id":1}`, CodeInvalidParams, "must end in /p2p/<peer-id>", "1"},
		{"not a bool", `{"jsonrpc":"2.0","method":"dnet.switch","params":["yes"],"id":1}`, CodeInvalidParams, "must be true or false", "1"},
		{"bad peer", `{"jsonrpc":"2.0","method":"p2p.ban","params":["someone"],"id":1}`, CodeInvalidParams, "neither a peer ID nor a multiaddr", "1"},
		{"negative seconds", `{"jsonrpc":"2.0","method":"p2p.ban","params":["` + n.ID().String() + `",-1],"id":1}`, CodeInvalidParams, "seconds", "1"},
		{"self as manual peer", `{"jsonrpc":"2.0","method":"p2p.add_peer","params":["/ip4/127.0.0.1/tcp/1` + p2p + `"],"id":1}`, CodeServerError, "self", "1"},
		{"subscription over HTTP", `{"jsonrpc":"2.0","method":"dnet.subscribe_events","id":1}`, CodeServerError, "WebSocket", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, srv, tc.body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			code, msg, id := rpcError(t, body)
			if code != tc.code || !strings.Contains(msg, tc.msg) || id != tc.id {
				t.Errorf("got code %d %q id %s; want %d, %q, id %s", code, msg, id, tc.code, tc.msg, tc.id)
			}
		})
	}

	t.Run("notification", func(t *testing.T) {
		if status, body := post(t, srv, `{"jsonrpc":"2.0","method":"ping"}`); status != http.StatusNoContent || body != "" {
			t.Errorf("notification: %d %q", status, body)
		}
	})
	t.Run("batch", func(t *testing.T) {
		_, body := post(t, srv, `[{"jsonrpc":"2.0","method":"ping","id":1},{"jsonrpc":"2.0","method":"nope","id":2},{"jsonrpc":"2.0","method":"ping"},5]`)
		var rs []json.RawMessage
		if err := json.Unmarshal([]byte(body), &rs); err != nil || len(rs) != 3 {
			t.Fatalf("batch reply %s", body)
		}
		if !strings.Contains(string(rs[0]), `"result":"pong"`) || !strings.Contains(string(rs[1]), `-32601`) || !strings.Contains(string(rs[2]), `-32600`) {
			t.Errorf("batch reply %s", body)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		big := `{"jsonrpc":"2.0","method":"ping","id":1,"params":["` + strings.Repeat("x", 4<<20) + `"]}`
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+srv.Addr()+"/", strings.NewReader(big))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), `-32600`) {
				t.Errorf("oversized body: %d %s", resp.StatusCode, body)
			}
		} else {
			// The server may close the connection while the client still
			// writes the body; the daemon must keep serving either way.
			t.Logf("oversized body: %v", err)
		}
		var pong string
		if err := client(t, srv, "").Call(t.Context(), "ping", &pong); err != nil || pong != "pong" {
			t.Fatalf("server not serving after an oversized body: %q %v", pong, err)
		}
	})
	t.Run("GET / is the web view, other methods are refused", func(t *testing.T) {
		resp, err := http.Get("http://" + srv.Addr() + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://"+srv.Addr()+"/", nil)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("PUT / = %d", resp.StatusCode)
		}
	})
	t.Run("no metrics handler", func(t *testing.T) {
		resp, err := http.Get("http://" + srv.Addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /metrics = %d", resp.StatusCode)
		}
	})
	t.Run("browser refused", func(t *testing.T) {
		status, _ := post(t, srv, `{"jsonrpc":"2.0","method":"ping","id":1}`, "Origin", "http://evil.example")
		if status != http.StatusForbidden {
			t.Errorf("request with Origin = %d", status)
		}
	})
}

func TestInternalError(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	chat := newFakeChat()
	chat.panic = true
	srv := startServer(t, Config{Node: n, Chat: chat})
	_, body := post(t, srv, `{"jsonrpc":"2.0","method":"dchat.send","params":["hi"],"id":1}`)
	if code, msg, _ := rpcError(t, body); code != CodeInternal || !strings.Contains(msg, "dchat.send") {
		t.Errorf("panicking method: %d %q", code, msg)
	}
	var pong string
	if err := client(t, srv, "").Call(t.Context(), "ping", &pong); err != nil {
		t.Fatal(err)
	}
}

func TestAuthToken(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "dnode_up 1") })
	srv := startServer(t, Config{Node: n, AuthToken: "s3cret", Metrics: metrics})
	ping := `{"jsonrpc":"2.0","method":"ping","id":1}`

	if status, _ := post(t, srv, ping); status != http.StatusUnauthorized {
		t.Errorf("no token: %d", status)
	}
	if status, _ := post(t, srv, ping, "Authorization", "Bearer wrong"); status != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", status)
	}
	if status, body := post(t, srv, ping, "Authorization", "Bearer s3cret"); status != http.StatusOK || !strings.Contains(body, "pong") {
		t.Errorf("right token: %d %s", status, body)
	}
	// A web page of another site is refused even with the token.
	if status, _ := post(t, srv, ping, "Authorization", "Bearer s3cret", "Origin", "http://x"); status != http.StatusForbidden {
		t.Errorf("right token with a foreign Origin: %d", status)
	}

	ctx := t.Context()
	if err := client(t, srv, "").Call(ctx, "ping", nil); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("client without token: %v", err)
	}
	if _, err := client(t, srv, "wrong").Dial(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("WebSocket without the token: %v", err)
	}
	conn := dial(t, client(t, srv, "s3cret"))
	var pong string
	if err := conn.Call(ctx, "ping", &pong); err != nil || pong != "pong" {
		t.Errorf("WebSocket ping = %q %v", pong, err)
	}

	get := func(token string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.Addr()+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(""); got != http.StatusUnauthorized {
		t.Errorf("/metrics without token: %d", got)
	}
	if got := get("s3cret"); got != http.StatusOK {
		t.Errorf("/metrics with token: %d", got)
	}
}

func TestListenPolicy(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:26660", "example.com:26660"} {
		if _, err := New(Config{Node: n, Listen: listen}); err == nil || !strings.Contains(err.Error(), "auth token") {
			t.Errorf("New(%q) without token: %v", listen, err)
		}
		if _, err := New(Config{Node: n, Listen: listen, AuthToken: "t"}); err != nil {
			t.Errorf("New(%q) with token: %v", listen, err)
		}
	}
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0", "127.1.2.3:0"} {
		if _, err := New(Config{Node: n, Listen: listen}); err != nil {
			t.Errorf("New(%q): %v", listen, err)
		}
	}
	if _, err := New(Config{Node: n, Listen: "nowhere"}); err == nil {
		t.Error("New accepted a listen address without a port")
	}
	if _, err := New(Config{Listen: "127.0.0.1:0"}); err == nil {
		t.Error("New accepted a config without a node")
	}

	// A bind error is Start's error; Close stays safe.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	srv, err := New(Config{Node: n, Listen: busy.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err == nil {
		t.Error("Start on a busy port succeeded")
	}
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	srv, err := New(Config{Node: n, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != "" {
		t.Errorf("Addr before Start = %q", srv.Addr())
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err == nil {
		t.Error("second Start succeeded")
	}
	// An open WebSocket with a subscription is closed by Close.
	conn, err := client(t, srv, "").Dial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sub, err := conn.Subscribe(t.Context(), "dnet.subscribe_events")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the WebSocket connection outlived Close")
	}
	for range sub.C {
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := srv.Start(t.Context()); err == nil {
		t.Error("Start after Close succeeded")
	}
	if err := client(t, srv, "").Call(t.Context(), "ping", nil); !errors.Is(err, ErrUnreachable) {
		t.Errorf("call after Close: %v", err)
	}
}

// The event stream shows a small network forming: a's outbound slot
// connects to b (outbound_slot_connected on a, inbound_connected on b),
// and with dnet.switch on, per-message events arrive in DarkFi's form.
func TestSubscribeEvents(t *testing.T) {
	t.Parallel()
	sa := testSettings(t)
	sa.Net.OutboundConnections = 1
	a := startNode(t, sa)
	b := startNode(t, testSettings(t))
	connA := dial(t, client(t, startServer(t, Config{Node: a}), ""))
	connB := dial(t, client(t, startServer(t, Config{Node: b}), ""))
	ctx := t.Context()

	subA, err := connA.Subscribe(ctx, "dnet.subscribe_events")
	if err != nil {
		t.Fatal(err)
	}
	subB, err := connB.Subscribe(ctx, "dnet.subscribe_events")
	if err != nil {
		t.Fatal(err)
	}
	if subA.ID == 0 || subB.ID == 0 {
		t.Errorf("subscription ids %d, %d", subA.ID, subB.ID)
	}
	// Subscribing again on the same connection gives the same id.
	var again uint64
	if err := connA.Call(ctx, "dnet.subscribe_events", &again); err != nil || again != subA.ID {
		t.Errorf("second subscribe = %d, %v; want %d", again, err, subA.ID)
	}

	// Give a's outbound slot b's address.
	bAddr := b.Addrs()[0]
	nodeinternal.Book(a).Insert("", []addrbook.Entry{{Addr: bAddr, Peer: b.ID(), LastSeen: time.Now()}})

	ev := waitEvent(t, subA, 15*time.Second, "outbound_slot_connected on a", func(e Event) bool {
		return e.Event == "outbound_slot_connected"
	})
	if ev.Info["slot"] != float64(0) || ev.Info["addr"] != bAddr.String() || ev.Info["channel_id"] == nil {
		t.Errorf("outbound_slot_connected info = %v", ev.Info)
	}
	ev = waitEvent(t, subB, 15*time.Second, "inbound_connected on b", func(e Event) bool {
		return e.Event == "inbound_connected"
	})
	if !strings.HasPrefix(fmt.Sprint(ev.Info["addr"]), "/ip4/127.0.0.1/tcp/") || ev.Info["channel_id"] == nil {
		t.Errorf("inbound_connected info = %v", ev.Info)
	}

	var ok bool
	if err := connA.Call(ctx, "dnet.switch", &ok, true); err != nil || !ok {
		t.Fatalf("dnet.switch = %v %v", ok, err)
	}
	ev = waitEvent(t, subA, 10*time.Second, "a recv event", func(e Event) bool { return e.Event == "recv" })
	ch, _ := ev.Info["chan"].(map[string]any)
	ts, _ := ev.Info["time"].(string)
	if ev.Info["cmd"] == nil || ch == nil || ch["id"] == nil || ch["addr"] == nil || len(ts) < 18 {
		t.Errorf("recv info = %v", ev.Info)
	}
	if err := connA.Call(ctx, "dnet.switch", &ok, false); err != nil {
		t.Fatalf("dnet.switch false: %v", err)
	}
	if a.Events().Messages() {
		t.Error("message events still on")
	}
}

func TestChat(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	chat := newFakeChat()
	srv := startServer(t, Config{Node: n, Chat: chat})
	c := client(t, srv, "")
	ctx := t.Context()

	conn := dial(t, c)
	sub, err := conn.Subscribe(ctx, "dchat.subscribe")
	if err != nil {
		t.Fatal(err)
	}
	var sent ChatMessage
	for _, text := range []string{"one", "two", "three"} {
		if err := c.Call(ctx, "dchat.send", &sent, text); err != nil || sent.Text != text || sent.Sender != "me" {
			t.Fatalf("dchat.send = %+v, %v", sent, err)
		}
	}
	for _, want := range []string{"one", "two", "three"} {
		select {
		case raw := <-sub.C:
			var m ChatMessage
			if err := json.Unmarshal(raw, &m); err != nil || m.Text != want {
				t.Fatalf("notification %s, want %q", raw, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no notification for %q", want)
		}
	}
	var msgs []ChatMessage
	if err := c.Call(ctx, "dchat.recv", &msgs); err != nil || len(msgs) != 3 {
		t.Fatalf("dchat.recv = %v, %v", msgs, err)
	}
	if err := conn.Call(ctx, "dchat.recv", &msgs, 2); err != nil || len(msgs) != 2 || msgs[1].Text != "three" {
		t.Fatalf("dchat.recv [2] = %v, %v", msgs, err)
	}
	var rerr *Error
	if err := c.Call(ctx, "dchat.send", nil, ""); !errors.As(err, &rerr) || rerr.Code != CodeServerError || !strings.Contains(rerr.Message, "empty") {
		t.Errorf("empty message: %v", err)
	}
	if err := c.Call(ctx, "dchat.recv", nil, "all"); !errors.As(err, &rerr) || rerr.Code != CodeInvalidParams {
		t.Errorf("bad limit: %v", err)
	}
	// Closing the connection ends the chat subscription.
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() error {
		if k := chat.subscribers(); k != 0 {
			return fmt.Errorf("%d chat subscribers left", k)
		}
		return nil
	})
}

// Requests over the WebSocket get the same answers as over HTTP,
// including errors and batches; an oversized message closes the socket
// but not the server.
func TestWebSocketRequests(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	srv := startServer(t, Config{Node: n, MaxBody: 64 << 10})
	c := client(t, srv, "")
	conn := dial(t, c)
	ctx := t.Context()

	var info Info
	if err := conn.Call(ctx, "p2p.get_info", &info); err != nil || info.PeerID != n.ID().String() {
		t.Fatalf("get_info over WS = %+v, %v", info, err)
	}
	var rerr *Error
	if err := conn.Call(ctx, "p2p.add_peer", nil, "x"); !errors.As(err, &rerr) || rerr.Code != CodeInvalidParams {
		t.Errorf("bad params over WS: %v", err)
	}
	if err := conn.Call(ctx, "nope", nil); !errors.As(err, &rerr) || rerr.Code != CodeMethodNotFound {
		t.Errorf("unknown method over WS: %v", err)
	}

	big := strings.Repeat("x", 128<<10)
	if err := conn.Call(ctx, "ping", nil, big); err == nil {
		t.Error("oversized message answered")
	}
	select {
	case <-conn.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("oversized message did not close the connection")
	}
	var pong string
	if err := dial(t, c).Call(ctx, "ping", &pong); err != nil || pong != "pong" {
		t.Fatalf("server not serving after an oversized message: %v", err)
	}
}

func TestNewClientEndpoints(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1:26660":        "http://127.0.0.1:26660",
		"http://127.0.0.1:1/":    "http://127.0.0.1:1",
		"ws://[::1]:2/ws":        "http://[::1]:2",
		"https://node.example:3": "https://node.example:3",
		"localhost:4":            "http://localhost:4",
	} {
		c, err := NewClient(in, "")
		if err != nil || c.Endpoint() != want {
			t.Errorf("NewClient(%q) = %v, %v; want %s", in, c, err, want)
		}
	}
	for _, in := range []string{"", "ftp://x:1", "http://nohost", "127.0.0.1"} {
		if _, err := NewClient(in, ""); err == nil {
			t.Errorf("NewClient(%q) accepted", in)
		}
	}
	c, _ := NewClient("127.0.0.1:5", "")
	if c.WSEndpoint() != "ws://127.0.0.1:5/ws" {
		t.Errorf("WSEndpoint = %s", c.WSEndpoint())
	}
}
