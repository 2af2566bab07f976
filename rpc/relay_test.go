package rpc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/relay"
)

// relayNode builds and starts a node with a relay.
func relayNode(t *testing.T) (*dnode.Node, *relay.Relay) {
	t.Helper()
	n, err := dnode.New(testSettings(t), dnode.WithLogHandler(testLogHandler(t)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(n, relay.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); _ = n.Stop() })
	return n, r
}

func TestRelayMethods(t *testing.T) {
	t.Parallel()
	a, ra := relayNode(t)
	b, rb := relayNode(t)
	ctx := t.Context()
	if _, err := b.Connect(ctx, a.Addrs()[0], channel.Manual); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if ra.Stats().Links != 1 || rb.Stats().Links != 1 {
			return fmt.Errorf("no relay link yet")
		}
		return nil
	})
	srv := startServer(t, Config{Node: a, Relay: ra})
	c := client(t, srv, "")
	conn := dial(t, c)
	sub, err := conn.Subscribe(ctx, "relay.subscribe", "news")
	if err != nil {
		t.Fatal(err)
	}
	next := func() RelayMessage {
		t.Helper()
		select {
		case raw := <-sub.C:
			var m RelayMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("notification %s: %v", raw, err)
			}
			return m
		case <-time.After(10 * time.Second):
			t.Fatal("no relay.subscribe notification")
		}
		return RelayMessage{}
	}

	// Named params, as the method is documented.
	status, body := post(t, srv, `{"jsonrpc":"2.0","id":1,"method":"relay.publish","params":{"topic":"news","data":"`+
		base64.StdEncoding.EncodeToString([]byte("from a"))+`"}}`)
	var res struct {
		Result Published `json:"result"`
	}
	if err := json.Unmarshal([]byte(body), &res); status != 200 || err != nil || len(res.Result.ID) != 64 {
		t.Fatalf("relay.publish: %d %s", status, body)
	}
	if m := next(); m.ID != res.Result.ID || m.Origin != a.ID().String() || m.Hops != 0 || m.Data != base64.StdEncoding.EncodeToString([]byte("from a")) {
		t.Errorf("own message notified as %+v", m)
	}
	id, err := rb.Publish(ctx, "news", []byte("from b"))
	if err != nil {
		t.Fatal(err)
	}
	if m := next(); m.ID != id.String() || m.Origin != b.ID().String() || m.Hops != 1 || m.ReceivedFrom != b.ID().String() || m.Topic != "news" {
		t.Errorf("b's message notified as %+v", m)
	}
	// Positional params work too.
	var pub Published
	if err := c.Call(ctx, "relay.publish", &pub, "other", base64.StdEncoding.EncodeToString([]byte("x"))); err != nil || len(pub.ID) != 64 {
		t.Fatalf("positional relay.publish = %+v, %v", pub, err)
	}

	var st relay.Stats
	if err := c.Call(ctx, "relay.get_stats", &st); err != nil {
		t.Fatal(err)
	}
	if st.Published != 2 || st.Received != 1 || st.Links != 1 || len(st.Dropped) != len(relay.DropReasons()) {
		t.Errorf("relay.get_stats = %+v", st)
	}
	// The raw result has the documented field names.
	_, body = post(t, srv, `{"jsonrpc":"2.0","id":2,"method":"relay.get_stats"}`)
	for _, f := range []string{"published", "received", "duplicates", "bytes_sent", "bytes_received", "eager", "lazy", "dropped", "queue_full", "metering", "validation", "too_large", "hop_limit", "unknown"} {
		if !strings.Contains(body, `"`+f+`"`) {
			t.Errorf("relay.get_stats result lacks %q: %s", f, body)
		}
	}

	var rerr *Error
	for _, bad := range []struct {
		body, msg string
	}{
		{`{"topic":"news","data":"not base64!"}`, "not base64"},
		{`{"topic":"news","data":"eA==","extra":1}`, "unknown param"},
		{`{"topic":"","data":"eA=="}`, "empty topic"},
		{`{"data":"eA=="}`, "(topic) must be a string"},
		{`{"topic":"news","data":""}`, "empty"},
	} {
		_, body := post(t, srv, `{"jsonrpc":"2.0","id":3,"method":"relay.publish","params":`+bad.body+`}`)
		code, msg, _ := rpcError(t, body)
		if code != CodeInvalidParams || !strings.Contains(msg, bad.msg) {
			t.Errorf("relay.publish %s: code %d %q, want invalid params with %q", bad.body, code, msg, bad.msg)
		}
	}
	if err := c.Call(ctx, "relay.get_stats", nil, 1); !errors.As(err, &rerr) || rerr.Code != CodeInvalidParams {
		t.Errorf("relay.get_stats with a param: %v", err)
	}
}
