package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
)

// A batch longer than MaxBatch is refused with an error naming the cap.
func TestBatchCap(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	srv := startServer(t, Config{Node: n, MaxBatch: 3})
	batch := func(k int) string {
		reqs := make([]string, k)
		for i := range reqs {
			reqs[i] = fmt.Sprintf(`{"jsonrpc":"2.0","method":"ping","id":%d}`, i)
		}
		return "[" + strings.Join(reqs, ",") + "]"
	}
	if status, body := post(t, srv, batch(3)); status != http.StatusOK || strings.Count(body, "pong") != 3 {
		t.Fatalf("batch of 3: %d %s", status, body)
	}
	_, body := post(t, srv, batch(4))
	if code, msg, _ := rpcError(t, body); code != CodeInvalidRequest || !strings.Contains(msg, "at most 3") || !strings.Contains(msg, "rpc_max_batch") {
		t.Fatalf("batch of 4: %d %q", code, msg)
	}
}

// A response over MaxResponse is a clear JSON-RPC error, for a single
// request and within a batch (the requests that did not fit are not
// run), and a page within the cap works.
func TestResponseCap(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	chat := newFakeChat()
	for i := range 100 {
		if _, err := chat.Send(fmt.Sprintf("message %03d %s", i, strings.Repeat("x", 80))); err != nil {
			t.Fatal(err)
		}
	}
	srv := startServer(t, Config{Node: n, Chat: chat, MaxResponse: 4000})
	_, body := post(t, srv, `{"jsonrpc":"2.0","method":"dchat.recv","id":7}`)
	code, msg, id := rpcError(t, body)
	if code != CodeTooLarge || id != "7" || !strings.Contains(msg, "4000 bytes") || !strings.Contains(msg, "offset and limit") {
		t.Fatalf("over the cap: %d %q id %s", code, msg, id)
	}
	var page struct {
		Result []ChatMessage `json:"result"`
	}
	_, body = post(t, srv, `{"jsonrpc":"2.0","method":"dchat.recv","params":[10],"id":8}`)
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Result) != 10 {
		t.Fatalf("a page within the cap: %v %s", err, body)
	}

	// A batch of recvs of 10 (about 1.3 kB each): the first fit, the rest
	// get the error and are not run.
	var calls atomic.Int32
	srv.disp.methods["test.count"] = &method{params: "[]", call: func(context.Context, params) (any, error) {
		calls.Add(1)
		return strings.Repeat("y", 1500), nil
	}}
	reqs := make([]string, 6)
	for i := range reqs {
		reqs[i] = fmt.Sprintf(`{"jsonrpc":"2.0","method":"test.count","id":%d}`, i)
	}
	_, body = post(t, srv, "["+strings.Join(reqs, ",")+"]")
	var replies []struct {
		Result *string `json:"result"`
		Error  *Error  `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &replies); err != nil || len(replies) != 6 {
		t.Fatalf("batch reply: %v %s", err, body)
	}
	ok := 0
	for _, r := range replies {
		switch {
		case r.Result != nil:
			ok++
		case r.Error == nil || r.Error.Code != CodeTooLarge:
			t.Fatalf("reply %+v, want a result or a too-large error", r)
		}
	}
	if ok != 2 || calls.Load() != 3 {
		// 2 fit; the 3rd ran and did not fit; the others were not run.
		t.Fatalf("%d results, %d calls; want 2 and 3", ok, calls.Load())
	}
	if len(body) > 4000+6*200 {
		t.Fatalf("batch reply of %d bytes", len(body))
	}
}

// countingItem counts its encodings.
type countingItem struct{ n *atomic.Int32 }

func (c countingItem) MarshalJSON() ([]byte, error) {
	c.n.Add(1)
	return []byte(`"` + strings.Repeat("z", 100) + `"`), nil
}

// A list result over the budget stops being encoded at the budget: it is
// never built in full.
func TestEncodeBoundedStopsEarly(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	items := make([]countingItem, 10000)
	for i := range items {
		items[i] = countingItem{&n}
	}
	if _, err := encodeBounded(items, 1000); err != errOverBudget {
		t.Fatalf("err = %v", err)
	}
	if got := n.Load(); got > 20 {
		t.Fatalf("%d of 10000 items encoded for a 1000-byte budget", got)
	}
	// Within the budget it is json.Marshal.
	small := []HostEntry{{Addr: "/ip4/1.2.3.4/tcp/1", LastSeen: 5}, {Addr: "b"}}
	got, err := encodeBounded(small, 1000)
	want, _ := json.Marshal(small)
	if err != nil || string(got) != string(want) {
		t.Fatalf("%s, %v; want %s", got, err, want)
	}
	for _, v := range []any{[]int(nil), []byte("ab"), map[string]int{"a": 1}, 3} {
		got, _ := encodeBounded(v, 1000)
		want, _ := json.Marshal(v)
		if string(got) != string(want) {
			t.Errorf("%T: %s, want %s", v, got, want)
		}
	}
}

// Past MaxInFlight requests being served, HTTP answers 503 with a busy
// JSON-RPC error, and a WebSocket message gets the busy error with its
// id; once they finish, requests are served again.
func TestInFlightCap(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	srv := startServer(t, Config{Node: n, MaxInFlight: 2})
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	srv.disp.methods["test.block"] = &method{params: "[]", call: func(ctx context.Context, _ params) (any, error) {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return true, nil
	}}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if status, body := post(t, srv, `{"jsonrpc":"2.0","method":"test.block","id":1}`); status != http.StatusOK {
				t.Errorf("blocked request: %d %s", status, body)
			}
		})
	}
	for range 2 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("blocking requests did not start")
		}
	}
	status, body := post(t, srv, pingReq)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("third request: %d %s", status, body)
	}
	if code, msg, _ := rpcError(t, body); code != CodeBusy || !strings.Contains(msg, "busy") || !strings.Contains(msg, "rpc_max_in_flight") {
		t.Fatalf("busy error: %d %q", code, msg)
	}
	if err := client(t, srv, "").Call(t.Context(), "ping", nil); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("client call while busy: %v", err)
	}
	conn := dial(t, client(t, srv, ""))
	if err := conn.Call(t.Context(), "ping", nil); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("WebSocket call while busy: %v", err)
	}
	close(release)
	wg.Wait()
	var pong string
	if err := conn.Call(t.Context(), "ping", &pong); err != nil || pong != "pong" {
		t.Fatalf("after the blocked requests ended: %q %v", pong, err)
	}
}

// p2p.get_hosts pages every list with offset and limit (positional or by
// name); without params it returns the whole book, as before.
func TestGetHostsPaginated(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	srv := startServer(t, Config{Node: n})
	var entries []addrbook.Entry
	src := testPeerID(t, 0)
	for i := range 30 {
		p := testPeerID(t, i+1)
		entries = append(entries, addrbook.Entry{Addr: ma.StringCast(fmt.Sprintf("/ip4/127.0.0.%d/tcp/%d/p2p/%s", i+1, 4000+i, p)),
			Peer: p, LastSeen: time.Now().Add(-time.Duration(i) * time.Minute)})
	}
	if stored := nodeinternal.Book(n).Insert(src, entries); stored != 30 {
		t.Fatalf("stored %d of 30", stored)
	}
	c := client(t, srv, "")
	var all Hosts
	if err := c.Call(t.Context(), "p2p.get_hosts", &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Grey) != 30 {
		t.Fatalf("no params: %d grey", len(all.Grey))
	}
	var pg Hosts
	if err := c.Call(t.Context(), "p2p.get_hosts", &pg, 10, 5); err != nil {
		t.Fatal(err)
	}
	if len(pg.Grey) != 5 || pg.Grey[0] != all.Grey[10] || pg.Grey[4] != all.Grey[14] {
		t.Fatalf("[10, 5]: %+v", pg.Grey)
	}
	_, body := post(t, srv, `{"jsonrpc":"2.0","method":"p2p.get_hosts","params":{"offset":28,"limit":5},"id":1}`)
	var named struct{ Result Hosts }
	if err := json.Unmarshal([]byte(body), &named); err != nil || len(named.Result.Grey) != 2 || named.Result.White == nil {
		t.Fatalf("named {offset 28, limit 5}: %v %s", err, body)
	}
	var past Hosts
	if err := c.Call(t.Context(), "p2p.get_hosts", &past, 100); err != nil || len(past.Grey) != 0 || past.Grey == nil {
		t.Fatalf("offset past the end: %v %+v", err, past.Grey)
	}
	for _, bad := range []string{`[-1]`, `[0, 10001]`, `["a"]`, `[0, 1, 2]`} {
		_, body := post(t, srv, `{"jsonrpc":"2.0","method":"p2p.get_hosts","params":`+bad+`,"id":1}`)
		if code, msg, _ := rpcError(t, body); code != CodeInvalidParams || !strings.Contains(msg, "p2p.get_hosts [offset, limit]") {
			t.Errorf("params %s: %d %q", bad, code, msg)
		}
	}
}

// dchat.recv keeps [limit] and adds offset, counted from the newest.
func TestChatRecvPaginated(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	chat := newFakeChat()
	for i := range 20 {
		if _, err := chat.Send(fmt.Sprintf("m%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	srv := startServer(t, Config{Node: n, Chat: chat})
	c := client(t, srv, "")
	texts := func(params ...any) string {
		var msgs []ChatMessage
		if err := c.Call(t.Context(), "dchat.recv", &msgs, params...); err != nil {
			t.Fatal(err)
		}
		out := make([]string, len(msgs))
		for i, m := range msgs {
			out[i] = m.Text
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		params []any
		want   string
	}{
		{[]any{3}, "m17,m18,m19"},
		{[]any{3, 2}, "m15,m16,m17"},
		{[]any{0, 18}, "m00,m01"},
		{[]any{5, 30}, ""},
	} {
		if got := texts(tc.params...); got != tc.want {
			t.Errorf("dchat.recv %v = %q, want %q", tc.params, got, tc.want)
		}
	}
	if got := texts(); strings.Count(got, ",") != 19 {
		t.Errorf("dchat.recv without params: %q", got)
	}
}

// p2p.get_info pages its channels and counts them.
func TestGetInfoPaginated(t *testing.T) {
	t.Parallel()
	a := startNode(t, testSettings(t))
	b := startNode(t, testSettings(t))
	if err := a.Admin().AddPeer(b.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if len(a.Channels()) != 1 {
			return fmt.Errorf("%d channels", len(a.Channels()))
		}
		return nil
	})
	srv := startServer(t, Config{Node: a})
	var info Info
	if err := client(t, srv, "").Call(t.Context(), "p2p.get_info", &info, 1); err != nil {
		t.Fatal(err)
	}
	if info.ChannelsTotal != 1 || len(info.Channels) != 0 || info.Channels == nil {
		t.Fatalf("offset 1: total %d, %d channels", info.ChannelsTotal, len(info.Channels))
	}
}

// Every method that returns a list without params is a list method
// (declares page), so that methods added later (relay.*) cannot return
// unbounded lists unnoticed. Methods with required params are checked by
// their own tests.
func TestEveryListMethodIsPaged(t *testing.T) {
	t.Parallel()
	n := startNode(t, testSettings(t))
	chat := newFakeChat()
	if _, err := chat.Send("hi"); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, Config{Node: n, Chat: chat})
	for name, m := range srv.disp.methods {
		if m.sub != nil || m.minParams > 0 {
			continue
		}
		var p params
		if m.page != nil {
			p.pg = defaultPage
		}
		res, err := m.call(t.Context(), params{method: name, usage: m.params, pg: p.pg})
		if err != nil {
			continue
		}
		data, _ := json.Marshal(res)
		if holdsList(data) && m.page == nil {
			t.Errorf("%s returns a list (%.80s) but takes no offset and limit", name, data)
		}
	}
}

// holdsList reports whether a JSON value is an array or an object with an
// array field of more than a fixed few (outbound_slots, addrs are bounded
// by the configuration and not lists of entries).
func holdsList(data []byte) bool {
	if len(data) > 0 && data[0] == '[' {
		return true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return false
	}
	for k, v := range obj {
		if k == "addrs" || k == "outbound_slots" {
			continue
		}
		if len(v) > 0 && v[0] == '[' {
			return true
		}
	}
	return false
}

// testPeerID returns the i-th of a fixed set of peer IDs.
func testPeerID(t *testing.T, i int) peer.ID {
	t.Helper()
	seed := make([]byte, 32)
	seed[0], seed[1] = byte(i), byte(i>>8)
	key, _, err := crypto.GenerateEd25519Key(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
