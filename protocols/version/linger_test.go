package version_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/protocols/pb"
	"github.com/dnode-p2p/dnode/protocols/version"
)

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }

const testProto = "/dnode/test/version/1.0.0"

// exchangeWithRawPeer runs Exchange as the responder on a loopback pair
// against a raw peer that sends a Version and a Verack of app version
// peerVersion; it returns the raw peer's stream and Exchange's result.
func exchangeWithRawPeer(t *testing.T, peerVersion string) (network.Stream, <-chan error) {
	t.Helper()
	a, b, _ := testnet.Pair(t)
	local := version.Local{AppName: "test", AppVersion: "0.1.0"}
	done := make(chan error, 1)
	b.SetStreamHandler(testProto, func(s network.Stream) {
		_, err := version.Exchange(context.Background(), s, s, local, nil, 5*time.Second, time.Now())
		if err != nil {
			_ = s.Reset() // as the caller does on any error
		}
		done <- err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := a.NewStream(ctx, b.ID(), testProto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Reset() })
	if err := channel.WriteFrame(s, &pb.Version{AppName: "test", AppVersion: peerVersion}, version.MaxVersionBytes); err != nil {
		t.Fatal(err)
	}
	if err := channel.WriteFrame(s, &pb.Verack{AppName: "test", AppVersion: peerVersion}, version.MaxVerackBytes); err != nil {
		t.Fatal(err)
	}
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	return s, done
}

// A node refusing an incompatible peer half-closes the handshake stream
// and keeps it until the peer closes its end, so the peer reads our
// Version and Verack (and learns why) before anything is reset: the peer
// sees our end close cleanly (EOF) while Exchange is still waiting, and
// Exchange returns ErrIncompatible once the peer closes.
func TestIncompatibleRefusalLetsThePeerRead(t *testing.T) {
	s, done := exchangeWithRawPeer(t, "0.2.0")
	var v pb.Version
	if err := channel.ReadFrame(s, &v, version.MaxVersionBytes); err != nil {
		t.Fatalf("read the refusing side's version: %v", err)
	}
	var ack pb.Verack
	if err := channel.ReadFrame(s, &ack, version.MaxVerackBytes); err != nil {
		t.Fatalf("read the refusing side's verack: %v", err)
	}
	if err := version.Compatible("test", "0.2.0", ack.AppName, ack.AppVersion); !errors.Is(err, version.ErrIncompatible) {
		t.Fatalf("the peer cannot tell it is incompatible: %v", err)
	}
	if n, err := s.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after the verack: read %d bytes, err %v; want a clean close (EOF), not a reset", n, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Exchange returned (%v) before the peer closed its end", err)
	default:
	}
	_ = s.CloseWrite()
	select {
	case err := <-done:
		if !errors.Is(err, version.ErrIncompatible) {
			t.Fatalf("Exchange: %v, want ErrIncompatible", err)
		}
	case <-time.After(version.Linger / 2):
		t.Fatal("Exchange kept lingering after the peer closed its end")
	}
}

// A peer that never closes its end holds the refusal for Linger at most.
func TestIncompatibleRefusalLingerIsBounded(t *testing.T) {
	_, done := exchangeWithRawPeer(t, "0.2.0")
	start := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, version.ErrIncompatible) {
			t.Fatalf("Exchange: %v, want ErrIncompatible", err)
		}
		if d := time.Since(start); d > version.Linger+time.Second {
			t.Fatalf("Exchange returned after %s, want about Linger (%s)", d, version.Linger)
		}
	case <-time.After(version.Linger + 3*time.Second):
		t.Fatal("Exchange still lingering well past Linger")
	}
}
