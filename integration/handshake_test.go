package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/protocols/version"
	"github.com/dnode-p2p/dnode/sessions"
)

// A peer whose app version differs in MAJOR.MINOR is refused; dialed as
// an outbound peer under the strict policy it is also banned.
func TestVersionMismatchRefused(t *testing.T) {
	a := startNode(t, "a", testSettings(t))
	sb := testSettings(t)
	sb.AppVersion = "0.2.0"
	b := startNode(t, "b", sb)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := b.Connect(ctx, addrOf(t, a), channel.Outbound)
	if !errors.Is(err, sessions.ErrHandshake) || !errors.Is(err, version.ErrIncompatible) {
		t.Fatalf("connect with mismatched version: err = %v, want handshake/incompatible", err)
	}
	if !nodeinternal.Host(b).Gater.Banned(a.ID(), nil) {
		t.Error("outbound peer with mismatched version was not banned (strict policy)")
	}
	if nodeinternal.Host(a).Gater.Banned(b.ID(), nil) {
		t.Error("inbound peer with mismatched version was banned; only outbound peers are")
	}
	eventually(t, 5*time.Second, func() error {
		if n := len(a.Channels()) + len(b.Channels()); n != 0 {
			return errorf("%d channels remain", n)
		}
		if n := len(nodeinternal.Host(a).Network().Conns()); n != 0 {
			return errorf("a still has %d connections", n)
		}
		return nil
	})
}

// A peer of another network fails at protocol negotiation and is
// disconnected.
func TestOtherNetworkRefused(t *testing.T) {
	a := startNode(t, "a", testSettings(t))
	sb := testSettings(t)
	sb.Network = "elsewhere"
	b := startNode(t, "b", sb)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := b.Connect(ctx, addrOf(t, a), channel.Manual)
	if !errors.Is(err, version.ErrOtherNetwork) {
		t.Fatalf("connect to another network: err = %v, want ErrOtherNetwork", err)
	}
	eventually(t, 10*time.Second, func() error {
		if n := len(nodeinternal.Host(a).Network().Conns()) + len(nodeinternal.Host(b).Network().Conns()); n != 0 {
			return errorf("%d connections remain", n)
		}
		return nil
	})
	if len(a.Channels())+len(b.Channels()) != 0 {
		t.Error("a channel formed across networks")
	}
}
