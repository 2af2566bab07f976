package memnet

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"testing/synctest"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

const lat = 10 * time.Millisecond

var (
	serverAP = netip.MustParseAddrPort("11.0.0.1:8000")
	clientIP = netip.MustParseAddr("12.0.0.1")
)

// connect returns both ends of a new connection on n, client first.
func connect(t *testing.T, n *Network) (*Conn, manet.Conn, *listener) {
	t.Helper()
	l, err := n.listen(serverAP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	c, err := n.dial(context.Background(), clientIP, serverAP)
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s, l
}

func TestDialTakesARoundTripAndBytesALatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(lat)
		start := time.Now()
		c, s, _ := connect(t, n)
		if d := time.Since(start); d != 2*lat {
			t.Errorf("dial took %s, want %s", d, 2*lat)
		}
		if got := s.RemoteAddr().(*net.TCPAddr).AddrPort().Addr(); got != clientIP {
			t.Errorf("server sees remote IP %s, want %s", got, clientIP)
		}
		if want := ma.StringCast("/ip4/11.0.0.1/tcp/8000"); !c.RemoteMultiaddr().Equal(want) {
			t.Errorf("client's remote multiaddr %s, want %s", c.RemoteMultiaddr(), want)
		}
		sent := time.Now()
		if _, err := c.Write([]byte("hello ")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("world")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		k, err := s.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(sent); d != lat {
			t.Errorf("read returned after %s, want %s", d, lat)
		}
		if string(buf[:k]) != "hello world" {
			t.Errorf("read %q", buf[:k])
		}
		// A short buffer reads the rest later.
		if _, err := s.Write([]byte("abcdef")); err != nil {
			t.Fatal(err)
		}
		small := make([]byte, 4)
		if k, _ := c.Read(small); string(small[:k]) != "abcd" {
			t.Errorf("first read %q", small[:k])
		}
		if k, _ := c.Read(small); string(small[:k]) != "ef" {
			t.Errorf("second read %q", small[:k])
		}
	})
}

func TestDialRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(lat)
		start := time.Now()
		_, err := n.dial(context.Background(), clientIP, serverAP)
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("dial: %v, want ErrRefused", err)
		}
		if d := time.Since(start); d != 2*lat {
			t.Errorf("refusal took %s, want one round trip %s", d, 2*lat)
		}
		// A closed listener refuses too, and its address is free again.
		l, err := n.listen(serverAP)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.listen(serverAP); !errors.Is(err, ErrAddrInUse) {
			t.Errorf("second listen: %v, want ErrAddrInUse", err)
		}
		l.Close()
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("accept after close: %v", err)
		}
		if _, err := n.dial(context.Background(), clientIP, serverAP); !errors.Is(err, ErrRefused) {
			t.Errorf("dial after close: %v, want ErrRefused", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := n.dial(ctx, clientIP, serverAP); !errors.Is(err, context.Canceled) {
			t.Errorf("dial with a cancelled context: %v", err)
		}
	})
}

func TestReadDeadlineWakesReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := connect(t, New(lat))
		start := time.Now()
		c.SetReadDeadline(start.Add(time.Second))
		_, err := c.Read(make([]byte, 1))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v, want a deadline error", err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("%v is not a net.Error timeout", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("read returned after %s, want 1s", d)
		}
		// Moving the deadline wakes a blocked reader.
		c.SetReadDeadline(time.Time{})
		done := make(chan error)
		go func() {
			_, err := c.Read(make([]byte, 1))
			done <- err
		}()
		synctest.Wait()
		c.SetReadDeadline(time.Now())
		if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("read after moving the deadline: %v", err)
		}
		c.SetWriteDeadline(time.Now())
		if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("write past the deadline: %v", err)
		}
	})
}

func TestCloseWakesReaderAndPeerReadsEOF(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s, _ := connect(t, New(lat))
		done := make(chan error)
		go func() {
			_, err := s.Read(make([]byte, 1))
			done <- err
		}()
		synctest.Wait()
		s.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked read after close: %v, want net.ErrClosed", err)
		}
		if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("write after close: %v", err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, ErrReset) {
			t.Errorf("write to a closed peer: %v, want ErrReset", err)
		}

		// The peer reads what was written before the close, then EOF.
		c2, s2, _ := connect(t, New(lat))
		s2.Write([]byte("bye"))
		s2.Close()
		b, err := io.ReadAll(c2)
		if err != nil || string(b) != "bye" {
			t.Errorf("peer read %q, %v; want \"bye\" then EOF", b, err)
		}
	})
}
