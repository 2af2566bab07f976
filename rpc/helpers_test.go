package rpc

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/settings"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, leaktest.Options()...)
}

// testSettings returns settings for a loopback test node: random TCP
// port, its own datastore, localnet, no outbound slots, short timers.
func testSettings(t testing.TB) settings.Settings {
	s := testnet.Settings(t)
	s.RPCListen = "127.0.0.1:0"
	s.Net.OutboundConnections = 0
	s.Net.OutboundPeerDiscoveryAttemptTime = 200 * time.Millisecond
	for name, p := range s.Net.Profiles {
		p.ChannelHeartbeatInterval = 300 * time.Millisecond
		s.Net.Profiles[name] = p
	}
	return s
}

// startNode builds and starts a node; it is stopped at cleanup.
func startNode(t testing.TB, s settings.Settings) *dnode.Node {
	t.Helper()
	n, err := dnode.New(s, dnode.WithLogHandler(testLogHandler(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n
}

// startServer starts an RPC server for cfg (Listen defaults to
// 127.0.0.1:0); it is closed at cleanup, before the node stops.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(testLogHandler(t))
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// client returns a client of s with token.
func client(t testing.TB, s *Server, token string) *Client {
	t.Helper()
	c, err := NewClient(s.Addr(), token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dial opens a WebSocket connection, closed at cleanup.
func dial(t testing.TB, c *Client) *Conn {
	t.Helper()
	conn, err := c.Dial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// post sends body to s and returns the status and the response body.
func post(t testing.TB, s *Server, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+s.Addr()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// rpcError decodes the error of a single response.
func rpcError(t testing.TB, body string) (code int, msg string, id string) {
	t.Helper()
	var r struct {
		Error *Error          `json:"error"`
		ID    json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Error == nil {
		t.Fatalf("not an error response: %s", body)
	}
	return r.Error.Code, r.Error.Message, string(r.ID)
}

func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	testnet.Eventually(t, timeout, cond)
}

// waitEvent reads events from sub until one satisfies match, failing
// after timeout.
func waitEvent(t testing.TB, sub *Subscription, timeout time.Duration, what string, match func(Event) bool) Event {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var seen []string
	for {
		select {
		case raw, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription closed while waiting for %s", what)
			}
			var e Event
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("event %s: %v", raw, err)
			}
			if match(e) {
				return e
			}
			seen = append(seen, e.Event)
		case <-timer.C:
			t.Fatalf("no %s within %s; saw %v", what, timeout, seen)
		}
	}
}

func testLogHandler(t testing.TB) slog.Handler { return testnet.LogHandler(t) }

// fakeChat is a Chat keeping messages in memory.
type fakeChat struct {
	mu    sync.Mutex
	msgs  []ChatMessage
	subs  map[chan ChatMessage]struct{}
	panic bool // Send panics
}

func newFakeChat() *fakeChat { return &fakeChat{subs: map[chan ChatMessage]struct{}{}} }

func (c *fakeChat) Send(text string) (ChatMessage, error) {
	if c.panic {
		panic("boom")
	}
	if text == "" {
		return ChatMessage{}, errEmpty
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := ChatMessage{ID: "m" + string(rune('a'+len(c.msgs))), Sender: "me", Text: text, Time: time.Now().Unix()}
	c.msgs = append(c.msgs, m)
	for ch := range c.subs {
		select {
		case ch <- m:
		default:
		}
	}
	return m, nil
}

func (c *fakeChat) Recv(limit int) []ChatMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	if limit <= 0 || limit > len(c.msgs) {
		limit = len(c.msgs)
	}
	return append([]ChatMessage(nil), c.msgs[len(c.msgs)-limit:]...)
}

func (c *fakeChat) Subscribe() (<-chan ChatMessage, func()) {
	ch := make(chan ChatMessage, 16)
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	c.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			c.mu.Lock()
			delete(c.subs, ch)
			c.mu.Unlock()
		})
	}
}

func (c *fakeChat) subscribers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.subs)
}

type chatError string

func (e chatError) Error() string { return string(e) }

const errEmpty = chatError("dchat: empty message")
