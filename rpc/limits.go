package rpc

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// Defaults of the server's caps (Config.MaxBatch, MaxResponse,
// MaxInFlight; settings rpc_max_batch, rpc_max_response_bytes,
// rpc_max_in_flight).
const (
	DefaultMaxBatch    = MaxBatch
	DefaultMaxResponse = 4 << 20
	DefaultMaxInFlight = 16
)

// Pagination of list methods: a list method takes offset (entries to skip,
// default 0) and limit (entries to return, default and at most
// MaxPageLimit; 0 means the default) among its positional params.
const MaxPageLimit = 10000

// Errors of the caps, in the JSON-RPC server-error range.
const (
	// CodeTooLarge: the response would exceed Config.MaxResponse.
	CodeTooLarge = -32001
	// CodeBusy: Config.MaxInFlight requests are being served already.
	CodeBusy = -32002
)

// pageAt says where a list method takes its offset and limit among its
// positional params.
type pageAt struct{ offset, limit int }

// page is the offset and limit of one call of a list method.
type page struct{ offset, limit int }

// defaultPage is the page of a call without paging params.
var defaultPage = page{0, MaxPageLimit}

// readPage reads the page params at at; absent or null params take the
// defaults.
func (p params) readPage(at pageAt) (page, error) {
	pg := defaultPage
	if p.has(at.offset) {
		n, err := p.int(at.offset, "offset")
		if err != nil {
			return pg, err
		}
		pg.offset = int(min(n, 1<<40))
	}
	if p.has(at.limit) {
		n, err := p.int(at.limit, "limit")
		if err != nil {
			return pg, err
		}
		if n > MaxPageLimit {
			return pg, p.invalid("params[%d] (limit) must be at most %d", at.limit, MaxPageLimit)
		}
		if n > 0 {
			pg.limit = int(n)
		}
	}
	return pg, nil
}

// pageOf returns the page pg of items (never nil).
func pageOf[T any](items []T, pg page) []T {
	if pg.offset >= len(items) {
		return []T{}
	}
	items = items[pg.offset:]
	if len(items) > pg.limit {
		items = items[:pg.limit]
	}
	return append([]T{}, items...)
}

// tooLarge is the error of a response over the cap.
func tooLarge(limit int) *Error {
	return errorf(CodeTooLarge, "response too large: over %d bytes (the server's rpc_max_response_bytes); "+
		"ask for less: list methods take offset and limit, and a batch can be split", limit)
}

// errOverBudget is returned by encodeBounded past its budget.
var errOverBudget = &Error{Code: CodeTooLarge}

// encodeBounded encodes v as json.Marshal would, failing with
// errOverBudget as soon as the encoding passes budget bytes. A slice is
// encoded element by element, so a list over the budget is never built in
// full; other values are encoded whole, then measured.
func encodeBounded(v any, budget int) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice || rv.IsNil() || rv.Type().Elem().Kind() == reflect.Uint8 {
		out, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if len(out) > budget {
			return nil, errOverBudget
		}
		return out, nil
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i := range rv.Len() {
		elem, err := json.Marshal(rv.Index(i).Interface())
		if err != nil {
			return nil, err
		}
		if buf.Len()+len(elem)+2 > budget {
			return nil, errOverBudget
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(elem)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// requestID returns the id of a single request message, or null (a
// batch, invalid JSON, no id), for errors sent before the message is run.
func requestID(data []byte) json.RawMessage {
	var r struct {
		ID json.RawMessage `json:"id"`
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' || json.Unmarshal(data, &r) != nil || len(r.ID) == 0 || !validID(r.ID) {
		return nullID
	}
	return r.ID
}

// busy is the error of a request refused because the server is busy.
func busy(limit int) *Error {
	return errorf(CodeBusy, "server busy: %d requests in flight already (the server's rpc_max_in_flight); retry shortly", limit)
}
