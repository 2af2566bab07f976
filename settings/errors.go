package settings

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrInvalid matches every *Error: errors.Is(err, ErrInvalid) reports whether
// err is a configuration error (as opposed to, say, an unreadable file).
var ErrInvalid = errors.New("invalid configuration")

// Error describes one bad configuration key. Key is the TOML path of the
// key, with an [index] suffix for list elements (e.g. "net.seeds[1]"); it is
// empty only for TOML syntax errors, whose Msg carries the line instead.
type Error struct {
	Key string
	Msg string
}

// Error returns "config: <key>: <msg>", or "config: <msg>" when Key is empty.
func (e *Error) Error() string {
	if e == nil {
		return "config: <nil>"
	}
	if e.Key == "" {
		return "config: " + e.Msg
	}
	return "config: " + e.Key + ": " + e.Msg
}

// Is makes errors.Is(err, ErrInvalid) true for every *Error.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func errf(key, format string, args ...any) *Error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// indexKey returns key[i].
func indexKey(key string, i int) string { return key + "[" + strconv.Itoa(i) + "]" }

// quote quotes s for an error message, eliding the middle of long strings.
func quote(s string) string {
	const limit = 80
	if len(s) > limit {
		s = s[:limit/2] + "..." + s[len(s)-limit/2:]
	}
	return strconv.Quote(s)
}

// describe names the TOML type of a decoded value, with the value itself for
// scalars, e.g. `string "x"`, `integer 5`, `table`.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case string:
		return "string " + quote(v)
	case int64:
		return "integer " + strconv.FormatInt(v, 10)
	case float64:
		return "float " + strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return "boolean " + strconv.FormatBool(v)
	case time.Time:
		return "datetime " + v.Format(time.RFC3339)
	case []any:
		return "array"
	case map[string]any:
		return "table"
	case []map[string]any:
		return "array of tables"
	default:
		return fmt.Sprintf("%T", v)
	}
}
