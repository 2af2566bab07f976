package host

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }

const fakeServiceID = "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd"

// fakeTor is a Tor control port in the test process: it offers the
// given AUTH methods, checks AUTHENTICATE against a cookie or password,
// answers ADD_ONION and records every command.
type fakeTor struct {
	ln       net.Listener
	methods  string
	cookie   []byte // COOKIE auth; its file is named in PROTOCOLINFO
	cookieAt string
	password string

	mu     sync.Mutex
	cmds   []string
	closed chan struct{} // closed when the client's connection ends
	wg     sync.WaitGroup
}

func startFakeTor(t *testing.T, methods string) *fakeTor {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeTor{ln: ln, methods: methods, closed: make(chan struct{})}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakeTor) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

func (f *fakeTor) serve() {
	defer f.wg.Done()
	c, err := f.ln.Accept()
	if err != nil {
		return
	}
	defer close(f.closed)
	defer c.Close()
	r := bufio.NewReader(c)
	reply := func(lines ...string) { _, _ = c.Write([]byte(strings.Join(lines, "\r\n") + "\r\n")) }
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		l = strings.TrimRight(l, "\r\n")
		f.mu.Lock()
		f.cmds = append(f.cmds, l)
		f.mu.Unlock()
		switch {
		case l == "PROTOCOLINFO 1":
			auth := "250-AUTH METHODS=" + f.methods
			if f.cookieAt != "" {
				auth += fmt.Sprintf(" COOKIEFILE=%q", f.cookieAt)
			}
			reply("250-PROTOCOLINFO 1", auth, `250-VERSION Tor="0.4.8.13"`, "250 OK")
		case strings.HasPrefix(l, "AUTHENTICATE"):
			arg := strings.TrimPrefix(strings.TrimPrefix(l, "AUTHENTICATE"), " ")
			ok := (strings.Contains(f.methods, "NULL") && arg == "") ||
				(f.cookie != nil && arg == hex.EncodeToString(f.cookie)) ||
				(f.password != "" && arg == `"`+f.password+`"`)
			if !ok {
				reply("515 Authentication failed: Password did not match HashedControlPassword value from configuration")
				return
			}
			reply("250 OK")
		case strings.HasPrefix(l, "ADD_ONION NEW:ED25519-V3 "):
			reply("250-ServiceID="+fakeServiceID, "250-PrivateKey=ED25519-V3:c2VjcmV0a2V5", "250 OK")
		case strings.HasPrefix(l, "ADD_ONION ED25519-V3:"):
			reply("250-ServiceID="+fakeServiceID, "250 OK")
		default:
			reply(`510 Unrecognized command "` + l + `"`)
		}
	}
}

func newOnionHost(t *testing.T, o Onion) (*Host, error) {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Listen = ma.StringCast("/ip4/127.0.0.1/tcp/0")
	return New(Config{Identity: key, Listen: []ma.Multiaddr{o.Listen}, InboundLimit: 4, OutboundLimit: 4, Onion: &o})
}

// Cookie authentication, a new key kept in the datastore, the listener's
// port published as the virtual port, the /onion3 address advertised;
// a second start reuses the key; Close ends the control connection.
func TestOnionServiceCookie(t *testing.T) {
	dir := t.TempDir()
	tor := startFakeTor(t, "COOKIE,SAFECOOKIE")
	tor.cookie = []byte("0123456789abcdef0123456789abcdef")
	tor.cookieAt = filepath.Join(dir, "control_auth_cookie")
	if err := os.WriteFile(tor.cookieAt, tor.cookie, 0o600); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, OnionKeyFile)
	h, err := newOnionHost(t, Onion{Control: tor.ln.Addr().String(), KeyPath: keyPath})
	if err != nil {
		t.Fatal(err)
	}
	port, err := h.Network().ListenAddresses()[0].ValueForProtocol(ma.P_TCP)
	if err != nil {
		t.Fatal(err)
	}
	want := ma.StringCast("/onion3/" + fakeServiceID + ":" + port)
	if got := h.OnionAddr(); !want.Equal(got) {
		t.Errorf("onion address %v, want %s", got, want)
	}
	if !ma.Contains(h.Addrs(), want) {
		t.Errorf("onion address not advertised: %v", h.Addrs())
	}
	cmds := tor.commands()
	wantAdd := fmt.Sprintf("ADD_ONION NEW:ED25519-V3 Port=%s,127.0.0.1:%s", port, port)
	if len(cmds) != 3 || cmds[1] != "AUTHENTICATE "+hex.EncodeToString(tor.cookie) || cmds[2] != wantAdd {
		t.Errorf("commands %q, want PROTOCOLINFO, cookie AUTHENTICATE, %q", cmds, wantAdd)
	}
	if b, err := os.ReadFile(keyPath); err != nil || string(b) != "ED25519-V3:c2VjcmV0a2V5\n" {
		t.Errorf("key file %q, %v", b, err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	<-tor.closed // the control connection ends with the host: Tor drops the service

	tor2 := startFakeTor(t, "NULL")
	h2, err := newOnionHost(t, Onion{Control: tor2.ln.Addr().String(), KeyPath: keyPath})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if cmds := tor2.commands(); len(cmds) != 3 || !strings.HasPrefix(cmds[2], "ADD_ONION ED25519-V3:c2VjcmV0a2V5 Port=") {
		t.Errorf("second start: commands %q, want ADD_ONION with the kept key", cmds)
	}
}

func TestOnionServicePassword(t *testing.T) {
	tor := startFakeTor(t, "HASHEDPASSWORD")
	tor.password = "correct horse"
	h, err := newOnionHost(t, Onion{Control: tor.ln.Addr().String(), Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if cmds := tor.commands(); len(cmds) < 2 || cmds[1] != `AUTHENTICATE "correct horse"` {
		t.Errorf("commands %q", cmds)
	}

	bad := startFakeTor(t, "HASHEDPASSWORD")
	bad.password = "correct horse"
	_, err = newOnionHost(t, Onion{Control: bad.ln.Addr().String(), Password: "wrong"})
	if !errors.Is(err, ErrTorControl) || !errors.Is(err, ErrListen) || !strings.Contains(err.Error(), "515 Authentication failed") {
		t.Errorf("wrong password: %v", err)
	}
	none := startFakeTor(t, "HASHEDPASSWORD")
	_, err = newOnionHost(t, Onion{Control: none.ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "set net.tor_control_password") {
		t.Errorf("no password: %v", err)
	}
}

// Tor absent: New fails at once with an error that says so.
func TestOnionServiceTorAbsent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = newOnionHost(t, Onion{Control: addr})
	if !errors.Is(err, ErrTorControl) || !errors.Is(err, ErrListen) || !strings.Contains(err.Error(), "is Tor running") {
		t.Errorf("Tor absent: %v", err)
	}
}

func TestTorReplyLimits(t *testing.T) {
	for _, c := range []struct{ name, reply, want string }{
		{"long line", "250-" + strings.Repeat("x", torMaxLine) + "\r\n", "longer than"},
		{"many lines", strings.Repeat("250-x\r\n", torMaxReplyLines+1), "longer than"},
		{"garbage", "hello\r\n", "malformed"},
		{"error status", "551 nope\r\n", "551 nope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			go func() {
				_, _ = bufio.NewReader(b).ReadString('\n')
				_, _ = b.Write([]byte(c.reply))
			}()
			ctl := &torControl{conn: a, r: bufio.NewReaderSize(a, torMaxLine)}
			if _, err := ctl.command(t.Context(), "PROTOCOLINFO 1"); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}
