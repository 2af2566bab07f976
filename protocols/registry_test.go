package protocols_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols"
	"github.com/dnode-p2p/dnode/protocols/pb"
)

type nop struct{}

func (nop) Start(context.Context) error { return nil }

func reg(name string, s channel.Session) protocols.Registration {
	spec := channel.NewSpec(name, "1.0.0", &pb.PingMessage{}, 64, channel.Metering{})
	return protocols.Registration{
		Name: name, Sessions: s, Specs: []*channel.Spec{spec},
		New: func(*channel.Channel) (protocols.Protocol, error) { return nop{}, nil },
	}
}

// The protocol × session matrix of DarkFi's default registry (ping on
// DEFAULT|SEED, address on DEFAULT, seed on SEED) plus an app protocol on
// DEFAULT: refine channels run no protocol, seed channels only ping and
// seed, every long-lived kind runs ping, address and the app.
func TestRegistryMatrix(t *testing.T) {
	t.Parallel()
	r := protocols.NewRegistry()
	for _, g := range []protocols.Registration{
		reg("ping", channel.Default|channel.Seed),
		reg("addr", channel.Default),
		reg("seed", channel.Seed),
		reg("app", channel.Default),
	} {
		if err := r.Register(g); err != nil {
			t.Fatal(err)
		}
	}
	want := map[channel.Session][]string{
		channel.Inbound:  {"ping", "addr", "app"},
		channel.Outbound: {"ping", "addr", "app"},
		channel.Manual:   {"ping", "addr", "app"},
		channel.Seed:     {"ping", "seed"},
		channel.Refine:   nil,
		channel.Direct:   {"ping", "addr", "app"},
	}
	for kind, names := range want {
		if got := r.Matching(kind); !slices.Equal(got, names) {
			t.Errorf("%v: protocols %v, want %v", kind, got, names)
		}
	}
}

func TestSessionFlags(t *testing.T) {
	t.Parallel()
	if channel.Default != 0b100111 || channel.All != 0b111111 {
		t.Fatalf("DEFAULT=%b ALL=%b, want DarkFi's 100111 and 111111", channel.Default, channel.All)
	}
	for kind, name := range map[channel.Session]string{
		channel.Inbound: "inbound", channel.Outbound: "outbound", channel.Manual: "manual",
		channel.Seed: "seed", channel.Refine: "refine", channel.Direct: "direct",
	} {
		if kind.String() != name {
			t.Errorf("%b.String() = %q, want %q", uint32(kind), kind.String(), name)
		}
		if kind.Broadcasts() == (kind == channel.Seed || kind == channel.Refine) {
			t.Errorf("%s.Broadcasts() wrong", name)
		}
	}
}

func TestRegisterRefusals(t *testing.T) {
	t.Parallel()
	r := protocols.NewRegistry()
	if err := r.Register(reg("a", channel.Default)); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(reg("a", channel.Default)); !errors.Is(err, protocols.ErrDuplicate) {
		t.Errorf("duplicate name: %v", err)
	}
	if err := r.Register(protocols.Registration{Name: "x"}); !errors.Is(err, protocols.ErrInvalid) {
		t.Errorf("invalid: %v", err)
	}
	r.Freeze()
	if err := r.Register(reg("b", channel.Default)); !errors.Is(err, protocols.ErrFrozen) {
		t.Errorf("after freeze: %v", err)
	}
	r.Unfreeze()
	if err := r.Register(reg("b", channel.Default)); err != nil {
		t.Errorf("after unfreeze: %v", err)
	}
}
