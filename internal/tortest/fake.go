// Package tortest is a fake Tor control port for tests in one process: it
// offers the AUTH methods a test chooses, checks AUTHENTICATE against a
// cookie or password, answers ADD_ONION with a fixed service ID and
// records every command. It serves one control connection.
package tortest

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// ServiceID is the onion service ID every ADD_ONION gets.
const ServiceID = "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd"

// NewKey is the key ADD_ONION NEW:ED25519-V3 returns.
const NewKey = "ED25519-V3:c2VjcmV0a2V5"

// maxLine caps a command line the fake reads.
const maxLine = 4096

// Fake is a running fake control port. Set Cookie, CookieFile and
// Password before the client connects. Methods are safe for concurrent use.
type Fake struct {
	Cookie     []byte // COOKIE auth accepts its hex form
	CookieFile string // named in PROTOCOLINFO when set
	Password   string // HASHEDPASSWORD auth accepts it, quoted

	ln      net.Listener
	methods string

	mu     sync.Mutex
	cmds   []string
	closed chan struct{}
	wg     sync.WaitGroup
}

// Start starts a fake offering methods (e.g. "COOKIE,SAFECOOKIE",
// "HASHEDPASSWORD", "NULL") on 127.0.0.1; it stops at test cleanup.
func Start(t testing.TB, methods string) *Fake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{ln: ln, methods: methods, closed: make(chan struct{})}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

// Addr returns the control port's host:port.
func (f *Fake) Addr() string { return f.ln.Addr().String() }

// Closed is closed when the client's connection has ended.
func (f *Fake) Closed() <-chan struct{} { return f.closed }

// Commands returns the command lines received so far.
func (f *Fake) Commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

func (f *Fake) serve() {
	defer f.wg.Done()
	c, err := f.ln.Accept()
	if err != nil {
		close(f.closed)
		return
	}
	defer close(f.closed)
	defer c.Close()
	r := bufio.NewReaderSize(c, maxLine)
	reply := func(lines ...string) { _, _ = c.Write([]byte(strings.Join(lines, "\r\n") + "\r\n")) }
	for {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		b, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		l := strings.TrimRight(string(b), "\r\n")
		f.mu.Lock()
		f.cmds = append(f.cmds, l)
		f.mu.Unlock()
		switch {
		case l == "PROTOCOLINFO 1":
			auth := "250-AUTH METHODS=" + f.methods
			if f.CookieFile != "" {
				auth += fmt.Sprintf(" COOKIEFILE=%q", f.CookieFile)
			}
			reply("250-PROTOCOLINFO 1", auth, `250-VERSION Tor="0.4.8.13"`, "250 OK")
		case strings.HasPrefix(l, "AUTHENTICATE"):
			arg := strings.TrimPrefix(strings.TrimPrefix(l, "AUTHENTICATE"), " ")
			ok := (strings.Contains(f.methods, "NULL") && arg == "") ||
				(f.Cookie != nil && arg == hex.EncodeToString(f.Cookie)) ||
				(f.Password != "" && arg == `"`+f.Password+`"`)
			if !ok {
				reply("515 Authentication failed: Password did not match HashedControlPassword value from configuration")
				return
			}
			reply("250 OK")
		case strings.HasPrefix(l, "ADD_ONION NEW:ED25519-V3 "):
			reply("250-ServiceID="+ServiceID, "250-PrivateKey="+NewKey, "250 OK")
		case strings.HasPrefix(l, "ADD_ONION ED25519-V3:"):
			reply("250-ServiceID="+ServiceID, "250 OK")
		default:
			reply(`510 Unrecognized command "` + l + `"`)
		}
	}
}
