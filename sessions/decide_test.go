package sessions

import (
	"errors"
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
)

// slotHost is another slot's host, for SlotCheck's others.
type slotHost struct {
	peer  peer.ID
	group string
}

func others(hosts ...slotHost) func(func(peer.ID, string) bool) {
	return func(yield func(peer.ID, string) bool) {
		for _, h := range hosts {
			if !yield(h.peer, h.group) {
				return
			}
		}
	}
}

func entry(p peer.ID, addr string) addrbook.Entry {
	return addrbook.Entry{Addr: ma.StringCast(addr), Peer: p}
}

func TestSlotCheck(t *testing.T) {
	t.Parallel()
	const self, a, b = peer.ID("self"), peer.ID("a"), peer.ID("b")
	hostA := entry(a, "/ip4/198.51.100.7/tcp/1000")
	groupA := SlotGroup(hostA.Addr, false)
	if groupA == "" {
		t.Fatal("public address without a netgroup")
	}
	sameGroup := SlotGroup(ma.StringCast("/ip4/198.51.200.9/tcp/1"), false)
	if sameGroup != groupA {
		t.Fatalf("198.51.100.7 and 198.51.200.9 in different /16 groups: %q, %q", groupA, sameGroup)
	}
	otherGroup := SlotGroup(ma.StringCast("/ip4/203.0.113.1/tcp/1"), false)
	for _, tc := range []struct {
		name     string
		e        addrbook.Entry
		localnet bool
		others   []slotHost
		want     error
	}{
		{"free", hostA, false, nil, nil},
		{"empty slots ignored", hostA, false, []slotHost{{"", ""}}, nil},
		{"self", entry(self, "/ip4/198.51.100.7/tcp/1000"), false, nil, ErrSlotSelf},
		{"self under localnet", entry(self, "/ip4/127.0.0.1/tcp/1000"), true, nil, ErrSlotSelf},
		{"peer held", hostA, false, []slotHost{{b, otherGroup}, {a, otherGroup}}, ErrSlotPeer},
		{"peer held under localnet", hostA, true, []slotHost{{a, ""}}, ErrSlotPeer},
		{"netgroup held", hostA, false, []slotHost{{b, sameGroup}}, ErrSlotNetgroup},
		{"netgroup ignored under localnet", hostA, true, []slotHost{{b, sameGroup}}, nil},
		{"other netgroup", hostA, false, []slotHost{{b, otherGroup}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := SlotCheck(tc.e, self, tc.localnet, others(tc.others...))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("SlotCheck = %v, want %v", err, tc.want)
			}
			if got := SlotConflict(tc.e, self, tc.localnet, others(tc.others...)); got != (tc.want != nil) {
				t.Fatalf("SlotConflict = %v, want %v", got, tc.want != nil)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	t.Parallel()
	// small < large: on a shared connection, small's handshake wins.
	const small, large = peer.ID("1small"), peer.ID("2large")
	run := func(init peer.ID, sameConn bool) runningHandshake {
		return runningHandshake{initiator: init, sameConn: sameConn}
	}
	for _, tc := range []struct {
		name string
		a    admission
		want error
	}{
		{"dial, nothing running", admission{self: small, peer: large, initiator: small}, nil},
		{"accept, nothing running", admission{self: small, peer: large, initiator: large}, nil},
		{"stopping", admission{self: small, peer: large, initiator: large, stopping: true}, ErrStopped},
		{"stopping wins over connected", admission{self: small, peer: large, initiator: small, stopping: true, connected: true}, ErrStopped},
		{"dial when connected", admission{self: small, peer: large, initiator: small, connected: true}, ErrAlreadyConnected},
		{"accept when connected: the pair rule decides", admission{self: small, peer: large, initiator: large, connected: true}, nil},
		{"dial while dialing", admission{self: small, peer: large, initiator: small, running: []runningHandshake{run(small, false)}}, ErrInProgress},
		{"accept while accepting", admission{self: small, peer: large, initiator: large, running: []runningHandshake{run(large, true)}}, ErrInProgress},
		{"dial while accepting", admission{self: small, peer: large, initiator: small, running: []runningHandshake{run(large, false)}}, nil},
		{"accept while dialing, other connection", admission{self: small, peer: large, initiator: large, running: []runningHandshake{run(small, false)}}, nil},
		{"accept while dialing, same connection, ours wins", admission{self: small, peer: large, initiator: large, running: []runningHandshake{run(small, true)}}, errSameConn},
		{"accept while dialing, same connection, theirs wins", admission{self: large, peer: small, initiator: small, running: []runningHandshake{run(large, true)}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := admit(tc.a)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("admit = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestAdmitSameConnectionOneSurvives: when both peers start a handshake on
// one connection at once, exactly one of the two handshakes is refused
// and both peers refuse the same one.
func TestAdmitSameConnectionOneSurvives(t *testing.T) {
	t.Parallel()
	for _, ids := range [][2]peer.ID{{"a", "b"}, {"b", "a"}} {
		x, y := ids[0], ids[1]
		// x sees y's handshake arrive while its own runs on the conn.
		xRefusesY := admit(admission{self: x, peer: y, initiator: y, running: []runningHandshake{{initiator: x, sameConn: true}}}) != nil
		yRefusesX := admit(admission{self: y, peer: x, initiator: x, running: []runningHandshake{{initiator: y, sameConn: true}}}) != nil
		if xRefusesY == yRefusesX {
			t.Fatalf("%s refuses %s's: %v; %s refuses %s's: %v: want exactly one refused", x, y, xRefusesY, y, x, yRefusesX)
		}
	}
}

func TestKeepNew(t *testing.T) {
	t.Parallel()
	const small, large = peer.ID("1small"), peer.ID("2large")
	for _, tc := range []struct {
		oldInit, newInit peer.ID
		want             bool
	}{
		{small, small, true}, // the same side redialed: it considers the old one gone
		{large, large, true},
		{large, small, true}, // the smaller peer's dial wins
		{small, large, false},
	} {
		if got := keepNew(tc.oldInit, tc.newInit); got != tc.want {
			t.Errorf("keepNew(old by %s, new by %s) = %v, want %v", tc.oldInit, tc.newInit, got, tc.want)
		}
	}
}

// survivor returns the initiator of the channel a node keeps when the
// handshakes opened by first and then second complete in that order.
func survivor(first, second peer.ID) peer.ID {
	if keepNew(first, second) {
		return second
	}
	return first
}

// TestKeepNewBothEndsAgree: two peers that both dial each other keep the
// channel of the same handshake whatever order the two handshakes
// complete in on either side (the rule reads no clock or local state).
func TestKeepNewBothEndsAgree(t *testing.T) {
	t.Parallel()
	for i := range 50 {
		a, b := peer.ID(fmt.Sprintf("peer-%02d", i)), peer.ID(fmt.Sprintf("peer-%02d", 49-i))
		if a == b {
			continue
		}
		want := min(a, b)
		for _, order := range [][2]peer.ID{{a, b}, {b, a}} {
			if got := survivor(order[0], order[1]); got != want {
				t.Fatalf("%s and %s: completing %s's first keeps %s's channel, want %s's", a, b, order[0], got, want)
			}
		}
	}
}

func TestConnectOutcome(t *testing.T) {
	t.Parallel()
	wrapped := func(err error) error { return fmt.Errorf("connect: %w", err) }
	for _, tc := range []struct {
		hasCh bool
		err   error
		want  outcome
	}{
		{true, nil, outcomeOwn},
		{true, ErrAlreadyConnected, outcomeShared},
		{true, ErrDuplicate, outcomeShared},
		{true, wrapped(ErrDuplicate), outcomeShared},
		{false, ErrAlreadyConnected, outcomeBusy},
		{false, ErrDuplicate, outcomeBusy},
		{false, ErrInProgress, outcomeBusy},
		{false, ErrSelf, outcomeSelf},
		{false, ErrStopped, outcomeStopped},
		{false, wrapped(ErrStopped), outcomeStopped},
		{false, wrapped(ErrConnect), outcomeFailed},
		{false, wrapped(ErrHandshake), outcomeFailed},
		{false, errors.New("other"), outcomeFailed},
	} {
		if got := connectOutcome(tc.hasCh, tc.err); got != tc.want {
			t.Errorf("connectOutcome(%v, %v) = %d, want %d", tc.hasCh, tc.err, got, tc.want)
		}
	}
}
