package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Client errors. Errors of Call and Dial wrap one of them, or are an
// *Error (the server answered with a JSON-RPC error).
var (
	// ErrUnreachable: no HTTP exchange happened (connection refused, no
	// route, timeout).
	ErrUnreachable = errors.New("RPC server unreachable")
	// ErrUnauthorized: the server wants a (different) token.
	ErrUnauthorized = errors.New("RPC server refused the token (HTTP 401)")
	// ErrConnClosed: the WebSocket connection is closed.
	ErrConnClosed = errors.New("RPC connection closed")
)

// maxResponse bounds a response the client reads.
const maxResponse = 64 << 20

// Client talks to a dnode RPC server: single calls over HTTP, and
// subscriptions over a WebSocket connection (Dial).
type Client struct {
	base  string // http://host:port
	token string
	hc    *http.Client
}

// NewClient returns a client for endpoint: "http://host:port",
// "https://host:port", "ws://host:port[/ws]", "wss://..." or plain
// "host:port". token, when not empty, is sent as a bearer token.
func NewClient(endpoint, token string) (*Client, error) {
	base, err := normalizeEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	return &Client{base: base, token: token, hc: &http.Client{Timeout: 30 * time.Second}}, nil
}

func normalizeEndpoint(endpoint string) (string, error) {
	e := strings.TrimSpace(endpoint)
	if e == "" {
		return "", errors.New("rpc: empty endpoint")
	}
	if !strings.Contains(e, "://") {
		e = "http://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", fmt.Errorf("rpc: endpoint %q: %w", endpoint, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "http"
	case "https", "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("rpc: endpoint %q: scheme must be http, https, ws or wss", endpoint)
	}
	if u.Host == "" || u.Port() == "" {
		return "", fmt.Errorf("rpc: endpoint %q: want host:port", endpoint)
	}
	return u.Scheme + "://" + u.Host, nil
}

// Endpoint returns the server's base URL (http://host:port).
func (c *Client) Endpoint() string { return c.base }

// WSEndpoint returns the server's WebSocket URL (ws://host:port/ws).
func (c *Client) WSEndpoint() string {
	return "ws" + strings.TrimPrefix(c.base, "http") + "/ws"
}

func (c *Client) header() http.Header {
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	return h
}

type wireRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type wireResponse struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// decode stores r's result in result (may be nil) or returns its error.
func (r *wireResponse) decode(result any) error {
	if r.Error != nil {
		return r.Error
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, result); err != nil {
		return fmt.Errorf("rpc: decoding result: %w", err)
	}
	return nil
}

// Call calls method with params over HTTP and stores the result in result
// (a pointer, or nil to drop it).
func (c *Client) Call(ctx context.Context, method string, result any, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(wireRequest{JSONRPC: "2.0", ID: 1, Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("rpc: encoding params: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = c.header()
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("rpc: reading response: %w", err)
	}
	if err := statusError(resp.StatusCode, data); err != nil {
		var r wireResponse
		if json.Unmarshal(data, &r) == nil && r.Error != nil {
			return r.Error
		}
		return err
	}
	var r wireResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("rpc: response is not JSON-RPC: %w", err)
	}
	return r.decode(result)
}

func statusError(code int, body []byte) error {
	switch {
	case code == http.StatusOK:
		return nil
	case code == http.StatusUnauthorized:
		return ErrUnauthorized
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return fmt.Errorf("rpc: HTTP %d: %s", code, msg)
}

// Conn is a WebSocket connection to the server: calls and subscriptions.
// Its methods are safe for concurrent use.
type Conn struct {
	ws     *websocket.Conn
	wmu    sync.Mutex // serialises writes
	done   chan struct{}
	reader sync.WaitGroup

	closing   chan struct{} // closed by Close
	closeOnce sync.Once

	mu      sync.Mutex
	err     error
	nextID  uint64
	pending map[uint64]chan *wireResponse
	subs    map[string]chan json.RawMessage
}

// Dial opens a WebSocket connection to the server's /ws endpoint.
func (c *Client) Dial(ctx context.Context) (*Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.DialContext(ctx, c.WSEndpoint(), c.header())
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if serr := statusError(resp.StatusCode, data); serr != nil {
				return nil, serr
			}
		}
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	ws.SetReadLimit(maxResponse)
	conn := &Conn{
		ws:      ws,
		done:    make(chan struct{}),
		closing: make(chan struct{}),
		pending: make(map[uint64]chan *wireResponse),
		subs:    make(map[string]chan json.RawMessage),
	}
	conn.reader.Add(1)
	go conn.read()
	return conn, nil
}

// read dispatches responses to their callers and notifications to their
// subscriptions until the connection fails.
func (c *Conn) read() {
	defer c.reader.Done()
	var err error
	for {
		var data []byte
		if _, data, err = c.ws.ReadMessage(); err != nil {
			break
		}
		var r wireResponse
		if json.Unmarshal(data, &r) != nil {
			continue // batches are never sent by this client
		}
		if r.Method != "" {
			c.notify(r.Method, r.Params)
			continue
		}
		var id uint64
		if json.Unmarshal(r.ID, &id) != nil {
			continue
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- &r
		}
	}
	c.mu.Lock()
	c.err = fmt.Errorf("%w: %w", ErrConnClosed, err)
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	for m, ch := range c.subs {
		close(ch)
		delete(c.subs, m)
	}
	c.mu.Unlock()
	close(c.done)
}

// notify hands a notification's params[0] to its subscription, waiting
// while the subscription's buffer is full.
func (c *Conn) notify(method string, params json.RawMessage) {
	var ps []json.RawMessage
	if json.Unmarshal(params, &ps) != nil || len(ps) == 0 {
		return
	}
	c.mu.Lock()
	ch := c.subs[method]
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- ps[0]:
		case <-c.closing:
		}
	}
}

// Call calls method with params and stores the result in result (a
// pointer, or nil).
func (c *Conn) Call(ctx context.Context, method string, result any, params ...any) error {
	r, err := c.roundTrip(ctx, method, params)
	if err != nil {
		return err
	}
	return r.decode(result)
}

func (c *Conn) roundTrip(ctx context.Context, method string, params []any) (*wireResponse, error) {
	if params == nil {
		params = []any{}
	}
	ch := make(chan *wireResponse, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	data, err := json.Marshal(wireRequest{JSONRPC: "2.0", ID: id, Method: method, Params: params})
	if err == nil {
		c.wmu.Lock()
		_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		err = c.ws.WriteMessage(websocket.TextMessage, data)
		c.wmu.Unlock()
	}
	if err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, c.Err()
		}
		return r, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Subscription is a live subscription on a Conn.
type Subscription struct {
	// ID is the server's subscription id.
	ID uint64
	// C delivers each notification's params[0]; it is closed when the
	// connection closes. Read it steadily: while its buffer is full, the
	// connection reads nothing else.
	C <-chan json.RawMessage
}

// Subscribe calls the subscription method (dnet.subscribe_events,
// dchat.subscribe) and returns the subscription. A connection holds one
// subscription per method.
func (c *Conn) Subscribe(ctx context.Context, method string, params ...any) (*Subscription, error) {
	ch := make(chan json.RawMessage, 256)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	if _, dup := c.subs[method]; dup {
		c.mu.Unlock()
		return nil, fmt.Errorf("rpc: already subscribed to %s on this connection", method)
	}
	c.subs[method] = ch // before the call: notifications may follow at once
	c.mu.Unlock()
	var id uint64
	if err := c.Call(ctx, method, &id, params...); err != nil {
		c.mu.Lock()
		if c.subs[method] == ch {
			delete(c.subs, method)
		}
		c.mu.Unlock()
		return nil, err
	}
	return &Subscription{ID: id, C: ch}, nil
}

// Done is closed when the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection closed (nil while open).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection and waits for its reader to stop. It is
// idempotent.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { close(c.closing) })
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	err := c.ws.Close()
	c.reader.Wait()
	return err
}
