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
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/internal/tortest"
)

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }

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
	t.Parallel()
	dir := t.TempDir()
	tor := tortest.Start(t, "COOKIE,SAFECOOKIE")
	tor.Cookie = []byte("0123456789abcdef0123456789abcdef")
	tor.CookieFile = filepath.Join(dir, "control_auth_cookie")
	if err := os.WriteFile(tor.CookieFile, tor.Cookie, 0o600); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, OnionKeyFile)
	h, err := newOnionHost(t, Onion{Control: tor.Addr(), KeyPath: keyPath})
	if err != nil {
		t.Fatal(err)
	}
	port, err := h.Network().ListenAddresses()[0].ValueForProtocol(ma.P_TCP)
	if err != nil {
		t.Fatal(err)
	}
	want := ma.StringCast("/onion3/" + tortest.ServiceID + ":" + port)
	if got := h.OnionAddr(); !want.Equal(got) {
		t.Errorf("onion address %v, want %s", got, want)
	}
	if !ma.Contains(h.Addrs(), want) {
		t.Errorf("onion address not advertised: %v", h.Addrs())
	}
	cmds := tor.Commands()
	wantAdd := fmt.Sprintf("ADD_ONION NEW:ED25519-V3 Port=%s,127.0.0.1:%s", port, port)
	if len(cmds) != 3 || cmds[1] != "AUTHENTICATE "+hex.EncodeToString(tor.Cookie) || cmds[2] != wantAdd {
		t.Errorf("commands %q, want PROTOCOLINFO, cookie AUTHENTICATE, %q", cmds, wantAdd)
	}
	if b, err := os.ReadFile(keyPath); err != nil || string(b) != tortest.NewKey+"\n" {
		t.Errorf("key file %q, %v", b, err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	<-tor.Closed() // the control connection ends with the host: Tor drops the service

	tor2 := tortest.Start(t, "NULL")
	h2, err := newOnionHost(t, Onion{Control: tor2.Addr(), KeyPath: keyPath})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if cmds := tor2.Commands(); len(cmds) != 3 || !strings.HasPrefix(cmds[2], "ADD_ONION "+tortest.NewKey+" Port=") {
		t.Errorf("second start: commands %q, want ADD_ONION with the kept key", cmds)
	}
}

func TestOnionServicePassword(t *testing.T) {
	t.Parallel()
	tor := tortest.Start(t, "HASHEDPASSWORD")
	tor.Password = "correct horse"
	h, err := newOnionHost(t, Onion{Control: tor.Addr(), Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if cmds := tor.Commands(); len(cmds) < 2 || cmds[1] != `AUTHENTICATE "correct horse"` {
		t.Errorf("commands %q", cmds)
	}

	bad := tortest.Start(t, "HASHEDPASSWORD")
	bad.Password = "correct horse"
	_, err = newOnionHost(t, Onion{Control: bad.Addr(), Password: "wrong"})
	if !errors.Is(err, ErrTorControl) || !errors.Is(err, ErrListen) || !strings.Contains(err.Error(), "515 Authentication failed") {
		t.Errorf("wrong password: %v", err)
	}
	none := tortest.Start(t, "HASHEDPASSWORD")
	_, err = newOnionHost(t, Onion{Control: none.Addr()})
	if err == nil || !strings.Contains(err.Error(), "set net.tor_control_password") {
		t.Errorf("no password: %v", err)
	}
}

// Tor absent: New fails at once with an error that says so.
func TestOnionServiceTorAbsent(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
