package host

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrTorControl wraps every failure to talk to Tor's control port.
var ErrTorControl = errors.New("tor control port")

// Limits on what the control port may send: a reply line and the lines
// of one reply (a PROTOCOLINFO or ADD_ONION reply is a handful).
const (
	torMaxLine       = 4096
	torMaxReplyLines = 64
	torCookieMax     = 1024
	// torCommandTimeout bounds each command and its reply.
	torCommandTimeout = 30 * time.Second
)

// torControl is a minimal client of Tor's control protocol
// (control-spec.txt): PROTOCOLINFO, AUTHENTICATE (none, cookie or
// password) and ADD_ONION. The onion services it adds live as long as
// its connection: Close removes them. It is not safe for concurrent use;
// the host uses it from New and Close only.
type torControl struct {
	conn net.Conn
	r    *bufio.Reader
}

// dialTorControl connects to the control port at addr and authenticates
// with password, or, when it is empty, with no authentication or the
// cookie file Tor names, whichever Tor offers.
func dialTorControl(ctx context.Context, addr, password string) (*torControl, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w (is Tor running with ControlPort %s?)", ErrTorControl, addr, err, portOfHostPort(addr))
	}
	c := &torControl{conn: conn, r: bufio.NewReaderSize(conn, torMaxLine)}
	if err := c.authenticate(ctx, password); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w %s: %w", ErrTorControl, addr, err)
	}
	return c, nil
}

func portOfHostPort(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return p
}

// Close closes the connection; Tor then removes the onion services it
// added.
func (c *torControl) Close() error { return c.conn.Close() }

// authenticate runs PROTOCOLINFO and AUTHENTICATE.
func (c *torControl) authenticate(ctx context.Context, password string) error {
	lines, err := c.command(ctx, "PROTOCOLINFO 1")
	if err != nil {
		return err
	}
	var methods []string
	cookieFile := ""
	for _, l := range lines {
		rest, ok := strings.CutPrefix(l, "AUTH METHODS=")
		if !ok {
			continue
		}
		m, kv, _ := strings.Cut(rest, " ")
		methods = strings.Split(m, ",")
		if v, ok := strings.CutPrefix(kv, "COOKIEFILE="); ok {
			if cookieFile, err = unquote(v); err != nil {
				return fmt.Errorf("PROTOCOLINFO: COOKIEFILE: %w", err)
			}
		}
	}
	has := func(m string) bool {
		for _, x := range methods {
			if x == m {
				return true
			}
		}
		return false
	}
	var auth string
	switch {
	case password != "":
		if !has("HASHEDPASSWORD") {
			return fmt.Errorf("a password is set (net.tor_control_password) but Tor offers %v", methods)
		}
		auth = "AUTHENTICATE " + quote(password)
	case has("NULL"):
		auth = "AUTHENTICATE"
	case has("COOKIE") && cookieFile != "":
		cookie, err := readCookie(cookieFile)
		if err != nil {
			return err
		}
		auth = "AUTHENTICATE " + hex.EncodeToString(cookie)
	case has("HASHEDPASSWORD"):
		return errors.New("the Tor control port wants a password: set net.tor_control_password")
	default:
		return fmt.Errorf("no supported authentication method among %v (want NULL, COOKIE or HASHEDPASSWORD)", methods)
	}
	if _, err := c.command(ctx, auth); err != nil {
		return fmt.Errorf("authentication: %w", err)
	}
	return nil
}

// readCookie reads Tor's authentication cookie (32 bytes).
func readCookie(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cookie file: %w", err)
	}
	defer f.Close()
	buf := make([]byte, torCookieMax+1)
	n, err := f.Read(buf)
	if err != nil {
		return nil, fmt.Errorf("cookie file %s: %w", path, err)
	}
	if n != 32 {
		return nil, fmt.Errorf("cookie file %s holds %d bytes, want 32", path, n)
	}
	return buf[:n], nil
}

// addOnion publishes an onion service forwarding virtual port virt to
// target (host:port). key is "ED25519-V3:<base64>" from an earlier call,
// or "" for a new key. It returns the service ID (56 base32 characters)
// and the key to reuse ("" if Tor did not send one, as for a given key).
func (c *torControl) addOnion(ctx context.Context, key string, virt int, target string) (id, newKey string, _ error) {
	spec := "NEW:ED25519-V3"
	if key != "" {
		spec = key
	}
	lines, err := c.command(ctx, fmt.Sprintf("ADD_ONION %s Port=%d,%s", spec, virt, target))
	if err != nil {
		return "", "", fmt.Errorf("%w: ADD_ONION: %w", ErrTorControl, err)
	}
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "ServiceID="); ok {
			id = v
		} else if v, ok := strings.CutPrefix(l, "PrivateKey="); ok {
			newKey = v
		}
	}
	if len(id) != 56 || strings.Trim(strings.ToLower(id), "abcdefghijklmnopqrstuvwxyz234567") != "" {
		return "", "", fmt.Errorf("%w: ADD_ONION: bad or missing ServiceID %q", ErrTorControl, id)
	}
	return strings.ToLower(id), newKey, nil
}

// command sends one command line and returns the reply's lines without
// their "250-"/"250 " prefixes; a status other than 250 is an error.
// Reading is bounded by torCommandTimeout (or ctx's deadline), line
// length and line count.
func (c *torControl) command(ctx context.Context, line string) ([]string, error) {
	deadline := time.Now().Add(torCommandTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.conn.SetDeadline(deadline)
	defer c.conn.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		return nil, err
	}
	var out []string
	for len(out) < torMaxReplyLines {
		l, err := c.readLine()
		if err != nil {
			return nil, err
		}
		if len(l) < 4 {
			return nil, fmt.Errorf("malformed reply line %q", l)
		}
		status, sep, text := l[:3], l[3], l[4:]
		if _, err := strconv.Atoi(status); err != nil {
			return nil, fmt.Errorf("malformed reply line %q", l)
		}
		if status != "250" {
			return nil, fmt.Errorf("%s %s", status, text)
		}
		switch sep {
		case ' ':
			return out, nil
		case '-':
			out = append(out, text)
		case '+': // a data reply: lines up to a lone "."
			out = append(out, text)
			for len(out) < torMaxReplyLines {
				d, err := c.readLine()
				if err != nil {
					return nil, err
				}
				if d == "." {
					break
				}
				out = append(out, d)
			}
		default:
			return nil, fmt.Errorf("malformed reply line %q", l)
		}
	}
	return nil, fmt.Errorf("reply longer than %d lines", torMaxReplyLines)
}

// readLine reads one CRLF-terminated line of at most torMaxLine bytes.
func (c *torControl) readLine() (string, error) {
	b, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("reply line longer than %d bytes", torMaxLine)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// quote returns s as a control-protocol QuotedString.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", `\r`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// unquote decodes a QuotedString (only \\ and \" escapes matter for a
// path) or returns an unquoted word as it is.
func unquote(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		w, _, _ := strings.Cut(s, " ")
		return w, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) {
				return "", errors.New("unterminated quoted string")
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return b.String(), nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", errors.New("unterminated quoted string")
}
