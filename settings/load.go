package settings

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	ma "github.com/multiformats/go-multiaddr"
)

// Load reads the TOML file at path and overlays it on Default(). The result
// is NOT validated: callers apply overrides (Set) and then call Validate.
//
// Datastore and net.hostlist values starting with "~/" have it replaced by
// the home directory. On error the returned Settings is the zero value.
//
// A file that cannot be read gives an error wrapping the os error (so
// errors.Is(err, fs.ErrNotExist) works) that is not an *Error. Bad content
// gives an *Error naming the first bad key in file order.
func Load(path string) (Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Settings{}, fmt.Errorf("config: %w", err)
	}
	return parse(path, data)
}

// Parse is Load for an in-memory TOML document.
func Parse(data []byte) (Settings, error) {
	return parse("", data)
}

func parse(name string, data []byte) (Settings, error) {
	var root map[string]any
	md, err := toml.Decode(string(data), &root)
	if err != nil {
		return Settings{}, syntaxError(name, err)
	}
	s := Default()
	// MetaData.Keys lists every key in file order, so the first error
	// reported is the first bad key in the file. Unknown keys are found
	// here too: MetaData.Undecoded cannot be used for that because
	// BurntSushi matches struct fields case-insensitively (NETWORK would
	// silently set network) and marks every key of a decoded map.
	for _, k := range md.Keys() {
		if err := s.applyTOML(root, k); err != nil {
			return Settings{}, err
		}
	}
	return s, nil
}

func syntaxError(name string, err error) *Error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Error{Msg: prefixName(name, err.Error())}
	}
	msg := fmt.Sprintf("line %d: %s", pe.Position.Line, pe.Message)
	if pe.LastKey != "" {
		msg = fmt.Sprintf("line %d (last key %s): %s", pe.Position.Line, quote(pe.LastKey), pe.Message)
	}
	return &Error{Msg: prefixName(name, msg)}
}

func prefixName(name, msg string) string {
	if name == "" {
		return msg
	}
	return name + ": " + msg
}

// applyTOML checks one key of the document (as listed by MetaData.Keys) and,
// if it is a setting, stores its value in s. Every prefix of the key must be
// a known table; the key itself must be a known table or setting.
func (s *Settings) applyTOML(root map[string]any, k toml.Key) error {
	table := root
	for i := range k {
		sub := k[:i+1]
		name := sub.String()
		v, ok := table[k[i]]
		if !ok {
			// Keys and the decoded tree come from the same parse, so this
			// does not happen; treat it as nothing to do.
			return nil
		}
		if isTable(sub) {
			t, ok := v.(map[string]any)
			if !ok {
				return errf(name, "expected a table, got %s", describe(v))
			}
			table = t
			continue
		}
		if len(sub) == 3 && sub[0] == "net" && sub[1] == "profiles" {
			return errf(name, "unknown profile %s (want "+profileList+")", quote(sub[2]))
		}
		sl, ok := s.slot(name)
		if !ok {
			return errf(name, "unknown key")
		}
		// A setting. If k goes deeper than this, v is a table or an array
		// of tables, which no setting accepts, so set reports the type.
		return sl.set(name, v)
	}
	return nil
}

// isTable reports whether a key path names one of the known tables: net,
// net.profiles, net.profiles.<tcp|quic|ws|tor>, relay or seed.
func isTable(k toml.Key) bool {
	switch {
	case len(k) == 1 && (k[0] == "seed" || k[0] == "relay"):
		return true
	case len(k) == 0 || k[0] != "net":
		return false
	case len(k) == 1:
		return true
	case k[1] != "profiles":
		return false
	case len(k) == 2:
		return true
	default:
		return len(k) == 3 && isProfileName(k[2])
	}
}

// Duration is a time.Duration decoded from TOML as either an integer number
// of seconds (DarkFi style: 30) or a Go duration string ("500ms", "1m30s").
// A string of decimal digits is also taken as seconds. Negative values
// decode; Validate rejects them where a positive duration is required.
type Duration time.Duration

// maxSeconds is the largest whole number of seconds a time.Duration holds.
const maxSeconds = math.MaxInt64 / int64(time.Second)

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Duration) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v > maxSeconds || v < -maxSeconds {
			return fmt.Errorf("%d seconds is out of range", v)
		}
		*d = Duration(time.Duration(v) * time.Second)
		return nil
	case string:
		p, err := parseDuration(v)
		if err != nil {
			return err
		}
		*d = Duration(p)
		return nil
	default:
		return fmt.Errorf("expected integer seconds or a duration string like \"1m30s\", got %s", describe(v))
	}
}

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		var d Duration
		err := d.UnmarshalTOML(n)
		return time.Duration(d), err
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %s: want integer seconds or a duration like \"1m30s\"", quote(s))
	}
	return d, nil
}

// The as* helpers convert one decoded TOML value (int64, float64, string,
// bool, time.Time, []any or map[string]any) to a setting's Go type, or give
// an *Error naming key.

func asString(key string, v any) (string, error) {
	if str, ok := v.(string); ok {
		return str, nil
	}
	return "", errf(key, "expected a string, got %s", describe(v))
}

func asInt(key string, v any) (int, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, errf(key, "expected an integer, got %s", describe(v))
	}
	if n < math.MinInt || n > math.MaxInt {
		return 0, errf(key, "integer %d is out of range", n)
	}
	return int(n), nil
}

func asBool(key string, v any) (bool, error) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	return false, errf(key, "expected true or false, got %s", describe(v))
}

func asDuration(key string, v any) (time.Duration, error) {
	var d Duration
	if err := d.UnmarshalTOML(v); err != nil {
		return 0, &Error{Key: key, Msg: err.Error()}
	}
	return time.Duration(d), nil
}

// asStrings converts an array of strings. An empty array gives nil.
func asStrings(key string, v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, errf(key, "expected an array of strings, got %s", describe(v))
	}
	if len(arr) == 0 {
		return nil, nil
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		str, ok := e.(string)
		if !ok {
			return nil, errf(indexKey(key, i), "expected a string, got %s", describe(e))
		}
		out[i] = str
	}
	return out, nil
}

// asAddrs converts an array of multiaddr strings. An empty array gives nil.
func asAddrs(key string, v any) ([]ma.Multiaddr, error) {
	strs, err := asStrings(key, v)
	if err != nil || strs == nil {
		return nil, err
	}
	out := make([]ma.Multiaddr, len(strs))
	for i, str := range strs {
		a, err := parseAddr(str)
		if err != nil {
			return nil, errf(indexKey(key, i), "%s: %s", quote(str), err)
		}
		out[i] = a
	}
	return out, nil
}

func parseAddr(s string) (a ma.Multiaddr, err error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty multiaddr")
	}
	// go-multiaddr reports bad input with errors, but it is a large parser
	// of untrusted input: keep "no panics on any input" unconditional.
	defer func() {
		if r := recover(); r != nil {
			a, err = nil, fmt.Errorf("invalid multiaddr: %v", r)
		}
	}()
	a, err = ma.NewMultiaddr(s)
	if err != nil {
		// The caller quotes s already; drop go-multiaddr's copy of it.
		msg := strings.TrimPrefix(err.Error(), "failed to parse multiaddr "+strconv.Quote(s)+": ")
		return nil, errors.New(msg)
	}
	if len(a) == 0 {
		return nil, errors.New("empty multiaddr")
	}
	return a, nil
}
