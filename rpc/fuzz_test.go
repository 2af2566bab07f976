package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strconv"
	"testing"
)

// fuzzChat is the chat behind the fuzzed dchat.* methods: a fixed
// buffer, Send refusing what dchat refuses.
type fuzzChat struct{ msgs []ChatMessage }

func (c *fuzzChat) Send(text string) (ChatMessage, error) {
	if text == "" || len(text) > 64 {
		return ChatMessage{}, errors.New("dchat: bad text")
	}
	return ChatMessage{ID: "01", Text: text}, nil
}

func (c *fuzzChat) Recv(int) []ChatMessage { return c.msgs }

func (c *fuzzChat) Subscribe() (<-chan ChatMessage, func()) {
	ch := make(chan ChatMessage)
	return ch, func() {}
}

// fuzzSession is the WebSocket session of the fuzzed dispatcher: it
// counts subscriptions and their releases, and never starts a pump.
type fuzzSession struct {
	subs     map[string]uint64
	released int
}

func (s *fuzzSession) subscribe(name string, _ pump, release func()) (uint64, func()) {
	if id, ok := s.subs[name]; ok {
		release()
		s.released++
		return id, nil
	}
	s.subs[name] = uint64(len(s.subs) + 1)
	return s.subs[name], func() {}
}

// Caps of the fuzzed dispatcher: small, so that batches and results
// reach them.
const (
	fuzzMaxBatch    = 8
	fuzzMaxResponse = 2048
)

// fuzzDispatcher is the server's dispatcher with the real ping and
// dchat.* methods (on fuzzChat) and test methods for what those lack:
// named params, paging over a long list, a panic, an error, a result
// that cannot be encoded.
func fuzzDispatcher() *dispatcher {
	chat := &fuzzChat{}
	for i := range 50 {
		chat.msgs = append(chat.msgs, ChatMessage{ID: strconv.Itoa(i), Text: "message " + strconv.Itoa(i)})
	}
	m := methodTable(nil, chat, nil)
	for name := range m { // the node's methods need a node
		if name != "ping" && !bytes.HasPrefix([]byte(name), []byte("dchat.")) {
			delete(m, name)
		}
	}
	list := make([]int, 3000)
	m["test.echo"] = &method{params: "[text, n]", names: []string{"text", "n"}, minParams: 1, maxParams: 2,
		call: func(_ context.Context, p params) (any, error) {
			s, err := p.string(0, "text")
			if err != nil {
				return nil, err
			}
			var n int64
			if p.has(1) {
				if n, err = p.int(1, "n"); err != nil {
					return nil, err
				}
			}
			return map[string]any{"text": s, "n": n}, nil
		}}
	m["test.list"] = &method{params: "[offset, limit]", names: []string{"offset", "limit"}, maxParams: 2, page: &pageAt{0, 1},
		call: func(_ context.Context, p params) (any, error) { return pageOf(list, p.pg), nil }}
	m["test.panic"] = &method{params: "[]", call: func(context.Context, params) (any, error) { panic("fuzz") }}
	m["test.fail"] = &method{params: "[]", call: func(context.Context, params) (any, error) { return nil, errors.New("plain") }}
	m["test.bad"] = &method{params: "[]", call: func(context.Context, params) (any, error) { return func() {}, nil }}
	return &dispatcher{methods: m, log: slog.New(slog.DiscardHandler), maxBatch: fuzzMaxBatch, maxResponse: fuzzMaxResponse}
}

// fuzzResponse is a reply object as a client reads it.
type fuzzResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  json.RawMessage `json:"result"`
	Error   *Error          `json:"error"`
	ID      json.RawMessage `json:"id"`
}

// FuzzDispatch runs any message through the JSON-RPC dispatcher, over
// plain HTTP or a WebSocket session: single requests and batches,
// positional and named params, any id, deep nesting. It must not panic
// (a method's panic becomes an internal error) and must answer as JSON-RPC
// 2.0 says: nothing for notifications, otherwise valid JSON, one response
// object (or an array of them for a batch, never more than its requests)
// with jsonrpc "2.0", exactly one of result and error, a known error code,
// and the request's id, or null when the request had none readable; no
// result above the response cap; a batch over the cap refused whole.
func FuzzDispatch(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"ping","id":1}`,
		`{"jsonrpc":"2.0","method":"ping"}`,
		`{"jsonrpc":"2.0","method":"test.echo","params":{"text":"a","n":3},"id":"x"}`,
		`{"jsonrpc":"2.0","method":"test.echo","params":["a",-1],"id":1e400}`,
		`{"jsonrpc":"2.0","method":"test.echo","params":{"text":"a","m":3},"id":null}`,
		`{"jsonrpc":"2.0","method":"test.list","params":[0,0],"id":-12345678901234567890123}`,
		`{"jsonrpc":"2.0","method":"test.list","params":{"limit":10001},"id":2}`,
		`{"jsonrpc":"2.0","method":"dchat.recv","params":[3,1],"id":3}`,
		`{"jsonrpc":"2.0","method":"dchat.send","params":["hi"],"id":4}`,
		`{"jsonrpc":"2.0","method":"dchat.subscribe","id":5}`,
		`{"jsonrpc":"2.0","method":"test.panic","id":6}`,
		`{"jsonrpc":"2.0","method":"test.bad","id":7}`,
		`[{"jsonrpc":"2.0","method":"test.list","id":1},{"jsonrpc":"2.0","method":"ping","id":2},{"jsonrpc":"2.0","method":"ping"}]`,
		`[{"jsonrpc":"2.0","method":"ping"}]`,
		`[1,2,3,4,5,6,7,8,9]`,
		`[]`,
		`{"jsonrpc":"2.0","method":"ping","params":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]],"id":[1]}`,
		`{"jsonrpc":"2.0","method":"ping","params":"x","id":{}}`,
		`{"jsonrpc":"1.0","method":"ping","id":1,"id":2}`,
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`[{"jsonrpc":"2.0","method":"dchat.subscribe","id":1},{"jsonrpc":"2.0","method":"dchat.subscribe","id":2}]`), true)
	f.Fuzz(func(t *testing.T, data []byte, ws bool) {
		d := fuzzDispatcher()
		var sess session
		fs := &fuzzSession{subs: map[string]uint64{}}
		if ws {
			sess = fs
		}
		reply, starts := d.handle(context.Background(), data, sess)
		if len(starts) > len(fs.subs) {
			t.Fatalf("%d pumps to start for %d subscriptions", len(starts), len(fs.subs))
		}
		trimmed := bytes.TrimSpace(data)
		var batch []json.RawMessage
		isBatch := len(trimmed) > 0 && trimmed[0] == '[' && json.Unmarshal(trimmed, &batch) == nil && len(batch) > 0 && len(batch) <= fuzzMaxBatch
		if reply == nil {
			// Only notifications go unanswered.
			if isBatch {
				for _, r := range batch {
					if hasID(r) || !isObject(r) {
						t.Fatalf("no reply to a batch with a request %s", r)
					}
				}
			} else if !json.Valid(trimmed) || hasID(trimmed) || !isObject(trimmed) {
				t.Fatalf("no reply to %q", data)
			}
			return
		}
		if !json.Valid(reply) {
			t.Fatalf("reply is not JSON: %s", reply)
		}
		var resps []fuzzResponse
		if isBatch {
			if err := json.Unmarshal(reply, &resps); err != nil {
				t.Fatalf("reply to a batch is not an array: %s", reply)
			}
			if len(resps) > len(batch) {
				t.Fatalf("%d responses to %d requests", len(resps), len(batch))
			}
		} else {
			var r fuzzResponse
			if err := json.Unmarshal(reply, &r); err != nil {
				t.Fatalf("reply is not one response object: %s", reply)
			}
			resps = []fuzzResponse{r}
		}
		var resultBytes int
		for _, r := range resps {
			checkResponse(t, r)
			resultBytes += len(r.Result)
		}
		if resultBytes > fuzzMaxResponse {
			t.Fatalf("results of %d bytes, cap %d", resultBytes, fuzzMaxResponse)
		}
		if !isBatch && isObject(trimmed) {
			if id, ok := requestIDOf(trimmed); ok && !sameJSON(resps[0].ID, id) && !bytes.Equal(resps[0].ID, nullID) {
				t.Fatalf("response id %s, request id %s", resps[0].ID, id)
			}
		}
	})
}

// checkResponse checks one response object's envelope.
func checkResponse(t *testing.T, r fuzzResponse) {
	t.Helper()
	if r.JSONRPC != "2.0" || (r.Error == nil) == (r.Result == nil) || len(r.ID) == 0 || !validID(r.ID) {
		t.Fatalf("bad response envelope %+v", r)
	}
	if r.Error != nil {
		switch r.Error.Code {
		case CodeParseError, CodeInvalidRequest, CodeMethodNotFound, CodeInvalidParams, CodeInternal, CodeServerError, CodeTooLarge:
		default:
			t.Fatalf("unknown error code %d: %s", r.Error.Code, r.Error.Message)
		}
		if r.Error.Message == "" {
			t.Fatalf("error %d without a message", r.Error.Code)
		}
	}
}

// sameJSON reports whether a and b are the same JSON value (the reply
// re-encodes the request's id: "&" may come back as "\u0026").
func sameJSON(a, b []byte) bool {
	decode := func(raw []byte) (any, error) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		err := d.Decode(&v)
		return v, err
	}
	x, errA := decode(a)
	y, errB := decode(b)
	return errA == nil && errB == nil && reflect.DeepEqual(x, y)
}

// hasID reports whether raw is an object with an "id" member.
func hasID(raw []byte) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return false
	}
	_, ok := fields["id"]
	return ok
}

func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// requestIDOf returns the id of a request object when it is a valid one.
func requestIDOf(raw []byte) (json.RawMessage, bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return nil, false
	}
	id, ok := fields["id"]
	return id, ok && validID(id)
}
