package testnet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }

// A dead port refuses connections at once and cannot be bound by anyone
// else while the test runs.
func TestDeadPort(t *testing.T) {
	t.Parallel()
	port := DeadPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("dial %s succeeded", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
	if l, err := net.Listen("tcp", addr); err == nil {
		l.Close()
		t.Fatalf("port %d could be bound while held", port)
	}
	a := DeadAddr(t)
	if !strings.HasPrefix(a.String(), "/ip4/127.0.0.1/tcp/") || !strings.Contains(a.String(), "/p2p/") {
		t.Fatalf("DeadAddr %s", a)
	}
}

// ListenPorts finds this process's own listener on port 0; FindPort
// returns the one its probe accepts and wraps ErrNoPort otherwise.
func TestListenPorts(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	ports, err := ListenPorts(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ports, port) {
		t.Fatalf("ListenPorts = %v, lacks %d", ports, port)
	}
	got, err := FindPort(os.Getpid(), func(p int) error {
		if p != port {
			return errors.New("not it")
		}
		return nil
	})
	if err != nil || got != port {
		t.Fatalf("FindPort = %d, %v; want %d", got, err, port)
	}
	refuse := errors.New("refused")
	if _, err := FindPort(os.Getpid(), func(int) error { return refuse }); !errors.Is(err, ErrNoPort) || !errors.Is(err, refuse) {
		t.Fatalf("FindPort with a probe refusing all: %v, want ErrNoPort and the probe's error", err)
	}
	// A dead port is bound but not listening: not listed.
	dead := DeadPort(t)
	if ports, _ := ListenPorts(os.Getpid()); slices.Contains(ports, dead) {
		t.Fatalf("ListenPorts lists the dead port %d", dead)
	}
}

// listening reads only LISTEN sockets of the process and rejects a
// malformed address.
func TestListeningTable(t *testing.T) {
	t.Parallel()
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0
   1: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0 100 0 0 10 0
   2: 0100007F:1F92 0100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0
`
	ports, err := listening(strings.NewReader(table), map[string]bool{"111": true})
	if err != nil || !slices.Equal(ports, []int{8080}) {
		t.Fatalf("listening = %v, %v; want [8080]", ports, err)
	}
	bad := "header\n 0: 0100007F:ZZZZ 00000000:0000 0A 0 0 0 0 0 111\n"
	if _, err := listening(strings.NewReader(bad), map[string]bool{"111": true}); err == nil {
		t.Fatal("a malformed port was accepted")
	}
}

// Pair connects two hosts; Settings gives a loopback node on port 0.
func TestPairAndSettings(t *testing.T) {
	t.Parallel()
	a, b, conn := Pair(t)
	if conn.RemotePeer() != b.ID() || conn.LocalPeer() != a.ID() {
		t.Fatalf("connection %s → %s, want %s → %s", conn.LocalPeer(), conn.RemotePeer(), a.ID(), b.ID())
	}
	s := Settings(t)
	if len(s.Net.Inbound) != 1 || s.Net.Inbound[0].String() != "/ip4/127.0.0.1/tcp/0" || s.RPCListen != "" || !s.Net.Localnet {
		t.Fatalf("settings: inbound %v, rpc %q, localnet %v", s.Net.Inbound, s.RPCListen, s.Net.Localnet)
	}
}

// A node on port 0 reports the address its listener got; Bound is the
// same without /p2p/.
func TestNodeAddresses(t *testing.T) {
	t.Parallel()
	n := StartNode(t, "n", Settings(t))
	a := AddrOf(t, n)
	if !strings.HasSuffix(a.String(), "/p2p/"+n.ID().String()) || strings.Contains(a.String(), "/tcp/0/") {
		t.Fatalf("AddrOf = %s", a)
	}
	if got, want := Bound(t, n).String()+"/p2p/"+n.ID().String(), a.String(); got != want {
		t.Fatalf("Bound + /p2p/ = %s, want %s", got, want)
	}
}

// Buffer keeps every concurrent write whole (the race detector checks
// the locking).
func TestBuffer(t *testing.T) {
	t.Parallel()
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("line\n"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := strings.Count(b.String(), "line\n"); got != 800 {
		t.Fatalf("%d lines, want 800", got)
	}
}
