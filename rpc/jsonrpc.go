package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
)

// JSON-RPC 2.0 error codes used by the server.
const (
	CodeParseError     = -32700 // the message is not valid JSON
	CodeInvalidRequest = -32600 // not a valid request object, or the body is too large
	CodeMethodNotFound = -32601 // no such method (dchat.* without a chat)
	CodeInvalidParams  = -32602 // wrong number or type of params
	CodeInternal       = -32603 // a bug in the server
	CodeServerError    = -32000 // the node refused or failed the operation
)

// MaxBatch bounds the requests in one batch.
const MaxBatch = 100

// Error is a JSON-RPC error object. Server methods fail with it, and the
// Client returns it for error responses.
type Error struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s (code %d)", e.Message, e.Code) }

func errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// nullID is the id of responses to requests whose id is unknown.
var nullID = json.RawMessage("null")

type resultResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  json.RawMessage `json:"result"`
	ID      json.RawMessage `json:"id"`
}

type errorResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	Error   *Error          `json:"error"`
	ID      json.RawMessage `json:"id"`
}

type notification struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

// method is one entry of the method table. Exactly one of call and sub is
// set.
type method struct {
	// params describes the positional params, for error messages
	// ("[multiaddr]"); minParams and maxParams bound their number.
	params               string
	minParams, maxParams int
	// names, when set, are the params' names in positional order: the
	// method then also takes its params as an object by name.
	names []string
	// page, when set, makes it a list method: the dispatcher reads its
	// offset and limit params there into params.pg, and the method
	// returns pageOf(list, p.pg). Every method whose result is or holds a
	// list of unbounded length must set it.
	page *pageAt
	call func(ctx context.Context, p params) (any, error)
	// sub starts a subscription: it acquires the source at once, so that
	// nothing published after the response is missed, and returns the
	// pump that forwards it (run by the connection after the response is
	// queued) and the function releasing it.
	sub func(p params) (pump, func(), error)
}

// pump forwards a subscription's items with send until ctx is done, its
// source ends, or send reports the connection is gone.
type pump func(ctx context.Context, send func(item any) bool)

// params are a request's positional params.
type params struct {
	method string
	usage  string
	raw    []json.RawMessage
	pg     page // list methods: the page asked for
}

func (p params) has(i int) bool { return i < len(p.raw) && !isNull(p.raw[i]) }

func (p params) invalid(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidParams, Message: fmt.Sprintf("%s %s: ", p.method, p.usage) + fmt.Sprintf(format, args...)}
}

func (p params) string(i int, name string) (string, error) {
	var s string
	if !p.has(i) || json.Unmarshal(p.raw[i], &s) != nil {
		return "", p.invalid("params[%d] (%s) must be a string", i, name)
	}
	return s, nil
}

func (p params) bool(i int, name string) (bool, error) {
	var b bool
	if !p.has(i) || json.Unmarshal(p.raw[i], &b) != nil {
		return false, p.invalid("params[%d] (%s) must be true or false", i, name)
	}
	return b, nil
}

// int reads a non-negative integer (a JSON number without fraction).
func (p params) int(i int, name string) (int64, error) {
	var n int64
	if !p.has(i) || json.Unmarshal(p.raw[i], &n) != nil || n < 0 {
		return 0, p.invalid("params[%d] (%s) must be a non-negative integer", i, name)
	}
	return n, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// dispatcher parses JSON-RPC messages and runs their methods.
type dispatcher struct {
	methods     map[string]*method
	log         *slog.Logger
	maxBatch    int // requests in a batch
	maxResponse int // bytes of one reply (a batch's replies together)
}

// session is what a transport offers to the methods: subscriptions need
// a WebSocket connection.
type session interface {
	// subscribe registers the subscription of method m with pump p and
	// release r, and returns its id. It returns the id of the existing
	// subscription (and calls r) when m is already subscribed. start runs
	// p once the response is queued.
	subscribe(name string, p pump, r func()) (id uint64, start func())
}

// handle runs one message (a request, a notification or a batch) and
// returns the reply (nil when nothing is to be sent) and the subscription
// pumps to start once the reply is sent. sess is nil over plain HTTP.
func (d *dispatcher) handle(ctx context.Context, data []byte, sess session) (reply []byte, starts []func()) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || !json.Valid(data) {
		return marshalError(nullID, errorf(CodeParseError, "parse error: the message is not valid JSON")), nil
	}
	if data[0] != '[' {
		resp, start, _ := d.handleOne(ctx, data, sess, d.maxResponse)
		if start != nil {
			starts = append(starts, start)
		}
		return resp, starts
	}
	var batch []json.RawMessage
	if err := json.Unmarshal(data, &batch); err != nil {
		return marshalError(nullID, errorf(CodeParseError, "parse error: %v", err)), nil
	}
	switch {
	case len(batch) == 0:
		return marshalError(nullID, errorf(CodeInvalidRequest, "invalid request: empty batch")), nil
	case len(batch) > d.maxBatch:
		return marshalError(nullID, errorf(CodeInvalidRequest,
			"invalid request: batch of %d requests, at most %d allowed (the server's rpc_max_batch)", len(batch), d.maxBatch)), nil
	}
	// The replies share one budget: once it is spent, the remaining
	// requests are not run and each gets a too-large error (small).
	var out [][]byte
	used := 2
	for _, raw := range batch {
		resp, start, over := d.handleOne(ctx, raw, sess, d.maxResponse-used)
		if resp != nil {
			out = append(out, resp)
			used += len(resp) + 1
		}
		if over {
			used = d.maxResponse
		}
		if start != nil {
			starts = append(starts, start)
		}
	}
	if len(out) == 0 {
		return nil, starts
	}
	return append(append([]byte("["), bytes.Join(out, []byte(","))...), ']'), starts
}

// handleOne runs one request object; it returns nil for a notification.
// budget bounds the reply's size: past it the reply is a CodeTooLarge
// error, and with no budget left the method is not run.
// over reports that the result did not fit.
func (d *dispatcher) handleOne(ctx context.Context, raw json.RawMessage, sess session, budget int) (reply []byte, start func(), over bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return marshalError(nullID, errorf(CodeInvalidRequest, "invalid request: not a JSON object")), nil, false
	}
	rawID, hasID := fields["id"]
	id := nullID
	if hasID {
		if !validID(rawID) {
			return marshalError(nullID, errorf(CodeInvalidRequest, "invalid request: id must be a string, a number or null")), nil, false
		}
		id = rawID
	}
	var version, name string
	if json.Unmarshal(fields["jsonrpc"], &version) != nil || version != "2.0" {
		return marshalError(id, errorf(CodeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`)), nil, false
	}
	if json.Unmarshal(fields["method"], &name) != nil || name == "" {
		return marshalError(id, errorf(CodeInvalidRequest, `invalid request: "method" must be a non-empty string`)), nil, false
	}
	m := d.methods[name]
	var rawParams []json.RawMessage
	if ps, ok := fields["params"]; ok && !isNull(ps) {
		switch bytes.TrimSpace(ps)[0] {
		case '[':
			if err := json.Unmarshal(ps, &rawParams); err != nil {
				return marshalError(id, errorf(CodeInvalidRequest, "invalid request: params: %v", err)), nil, false
			}
		case '{':
			if m == nil {
				break
			}
			if m.names == nil {
				return d.reply(hasID, id, nil, errorf(CodeInvalidParams, "%s takes positional params (a JSON array), not an object", name)), nil, false
			}
			var err *Error
			if rawParams, err = byName(ps, name, m); err != nil {
				return d.reply(hasID, id, nil, err), nil, false
			}
		default:
			return marshalError(id, errorf(CodeInvalidRequest, "invalid request: params must be an array or an object")), nil, false
		}
	}
	if m == nil {
		return d.reply(hasID, id, nil, errorf(CodeMethodNotFound, "method not found: %s", name)), nil, false
	}
	if budget <= 0 {
		return d.reply(hasID, id, nil, tooLarge(d.maxResponse)), nil, false
	}
	p := params{method: name, usage: m.params, raw: rawParams}
	if len(rawParams) < m.minParams || len(rawParams) > m.maxParams {
		return d.reply(hasID, id, nil, p.invalid("takes %s, got %d", countParams(m.minParams, m.maxParams), len(rawParams))), nil, false
	}
	if m.page != nil {
		var err error
		if p.pg, err = p.readPage(*m.page); err != nil {
			return d.reply(hasID, id, nil, err), nil, false
		}
	}
	if m.sub != nil {
		if sess == nil {
			return d.reply(hasID, id, nil, errorf(CodeServerError,
				"%s is a subscription: call it over the WebSocket endpoint (ws://<rpc address>/ws)", name)), nil, false
		}
		var subID uint64
		err := d.safely(name, func() error {
			pm, release, err := m.sub(p)
			if err != nil {
				return err
			}
			subID, start = sess.subscribe(name, pm, release)
			return nil
		})
		return d.reply(hasID, id, subID, err), start, false
	}
	var result any
	err := d.safely(name, func() (err error) {
		result, err = m.call(ctx, p)
		return err
	})
	reply, over = d.replyBounded(hasID, id, result, err, budget)
	return reply, nil, over
}

// safely runs f, turning a panic into an internal error.
func (d *dispatcher) safely(name string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("RPC method panicked", "method", name, "panic", r, "stack", string(debug.Stack()))
			err = errorf(CodeInternal, "internal error in %s", name)
		}
	}()
	return f()
}

// reply encodes the response to a call (nil for a notification).
func (d *dispatcher) reply(hasID bool, id json.RawMessage, result any, err error) []byte {
	out, _ := d.replyBounded(hasID, id, result, err, d.maxResponse)
	return out
}

// replyBounded is reply with a response of at most budget bytes (or a
// CodeTooLarge error in its place, and over true).
func (d *dispatcher) replyBounded(hasID bool, id json.RawMessage, result any, err error, budget int) (_ []byte, over bool) {
	if !hasID {
		return nil, false
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = errorf(CodeInternal, "internal error: %v", err)
		}
		return marshalError(id, e), false
	}
	// The envelope around the result: {"jsonrpc":"2.0","result":,"id":<id>}.
	envelope := 32 + len(id)
	res, merr := encodeBounded(result, budget-envelope)
	if merr == errOverBudget {
		return marshalError(id, tooLarge(d.maxResponse)), true
	}
	if merr != nil {
		d.log.Error("RPC result not encodable", "err", merr)
		return marshalError(id, errorf(CodeInternal, "internal error: result not encodable")), false
	}
	out, _ := json.Marshal(resultResponse{JSONRPC: "2.0", Result: res, ID: id})
	return out, false
}

func marshalError(id json.RawMessage, e *Error) []byte {
	out, _ := json.Marshal(errorResponse{JSONRPC: "2.0", Error: e, ID: id})
	return out
}

func marshalNotification(method string, item any) ([]byte, error) {
	return json.Marshal(notification{JSONRPC: "2.0", Method: method, Params: []any{item}})
}

// validID reports whether raw is a string, a number or null.
func validID(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	switch c := raw[0]; {
	case c == '"', c == 'n', c == '-', c >= '0' && c <= '9':
		return true
	}
	return false
}

func countParams(lo, hi int) string {
	switch {
	case hi == 0:
		return "no params"
	case lo == hi && hi == 1:
		return "1 param"
	case lo == hi:
		return fmt.Sprintf("%d params", hi)
	default:
		return fmt.Sprintf("%d to %d params", lo, hi)
	}
}

// byName maps object params onto m's positional params by m.names;
// absent names become null.
func byName(ps json.RawMessage, name string, m *method) ([]json.RawMessage, *Error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(ps, &obj); err != nil {
		return nil, errorf(CodeInvalidRequest, "invalid request: params: %v", err)
	}
	out := make([]json.RawMessage, 0, len(m.names))
	for k := range obj {
		if !slices.Contains(m.names, k) {
			return nil, errorf(CodeInvalidParams, "%s %s: unknown param %q", name, m.params, k)
		}
	}
	for _, n := range m.names {
		v, ok := obj[n]
		if !ok {
			v = json.RawMessage("null")
		}
		out = append(out, v)
	}
	for len(out) > 0 && isNull(out[len(out)-1]) {
		out = out[:len(out)-1]
	}
	return out, nil
}
