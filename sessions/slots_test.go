package sessions

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols/addr"
)

// slotView is one outbound slot as a round sees it.
type slotView struct {
	peer  peer.ID
	group string
	ch    *channel.Channel
}

func viewSlots(o *Outbound) []slotView {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]slotView, len(o.slots))
	for i, s := range o.slots {
		out[i] = slotView{peer: s.peer, group: s.group, ch: s.ch}
	}
	return out
}

// checkDiverse fails if two slots hold (or dial) the same peer or
// netgroup.
func checkDiverse(t *testing.T, round string, slots []slotView) {
	t.Helper()
	for i, s := range slots {
		for _, o := range slots[i+1:] {
			if s.peer != "" && s.peer == o.peer {
				t.Fatalf("%s: two slots hold peer %s", round, s.peer)
			}
			if s.group != "" && s.group == o.group {
				t.Fatalf("%s: two slots hold netgroup %s", round, s.group)
			}
		}
	}
}

// slotOf returns the slot holding or dialing p, or -1.
func slotOf(slots []slotView, p peer.ID) int {
	for i, s := range slots {
		if s.peer == p {
			return i
		}
	}
	return -1
}

// The outbound slots, round by round in the manner of geth's
// p2p/dial_test.go, over a book whose hosts are known: live nodes l1 and
// g1/g2 (one netgroup) and a dead address. Each round changes the book or
// the slots and states which hosts the slots hold.
func TestOutboundSlotRounds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newSimNet(t)
		s := simSettings()
		s.Net.OutboundConnections = 2
		a := n.node("11.0.0.1", &s)
		l1 := n.node("12.0.0.1", nil)
		g1, g2 := n.node("13.0.0.1", nil), n.node("13.0.0.2", nil)
		dead := n.deadEntry("14.0.0.1")
		source := testPeer(t)
		insert := func(es ...addrbook.Entry) {
			t.Helper()
			if got := a.book.Insert(source, es); got != len(es) {
				t.Fatalf("book stored %d of %d hosts", got, len(es))
			}
		}
		o := NewOutbound(a.m, addr.New(addr.Config{}), NewSeedSync(a.m, nil))
		t.Cleanup(func() {
			if err := o.Stop(context.Background()); err != nil {
				t.Errorf("Outbound.Stop: %v", err)
			}
		})

		// Round 1: the book has g1 and the dead host; the two slots take
		// one each.
		insert(g1.entry(), dead)
		began := time.Now()
		o.Start()
		var slots []slotView
		waitFor(t, time.Second, func() error {
			slots = viewSlots(o)
			i, j := slotOf(slots, g1.id()), slotOf(slots, dead.Peer)
			if i < 0 || j < 0 || slots[i].ch == nil {
				return fmt.Errorf("round 1: slots %v, want g1 connected and the dead host dialing", slots)
			}
			return nil
		})
		checkDiverse(t, "round 1", slots)
		g1Slot, deadSlot := slotOf(slots, g1.id()), slotOf(slots, dead.Peer)
		if st := a.book.State(dead.Peer); st != addrbook.Connect {
			t.Fatalf("round 1: the dead host is %v, want connect", st)
		}

		// Round 2: g2 arrives while both slots are busy. The dead dial
		// fails at the connect timeout: the host goes back to grey,
		// suspended, and its slot moves on, but g2 shares g1's netgroup:
		// the slot stays empty.
		insert(g2.entry())
		waitFor(t, testConnectTimeout+time.Second, func() error {
			if st := a.book.State(dead.Peer); st != addrbook.Suspend {
				return fmt.Errorf("round 2: the dead host is %v, want suspend", st)
			}
			return nil
		})
		if took := time.Since(began); took < testConnectTimeout {
			t.Fatalf("round 2: the dead dial failed after %s, before the %s connect timeout", took, testConnectTimeout)
		}
		if c, _ := a.book.Contains(dead.Peer); c != addrbook.Grey {
			t.Fatalf("round 2: the dead host is in %v, want grey", c)
		}
		// Virtual time (synctest): the slot's retry timer fires, the slot
		// picks again and finds nothing; a poll could not see "nothing".
		time.Sleep(time.Second)
		slots = viewSlots(o)
		checkDiverse(t, "round 2", slots)
		if s := slots[deadSlot]; s.peer != "" {
			t.Fatalf("round 2: the freed slot holds %s (g2: %v), want it empty", s.peer, s.peer == g2.id())
		}
		if st := a.book.State(g2.id()); st != addrbook.Free {
			t.Fatalf("round 2: g2 is %v, want free (no slot may take it)", st)
		}

		// Round 3: l1 arrives; the empty slot takes it.
		insert(l1.entry())
		waitFor(t, time.Second, func() error {
			slots = viewSlots(o)
			if slotOf(slots, l1.id()) != deadSlot || slots[deadSlot].ch == nil {
				return fmt.Errorf("round 3: slots %v, want l1 connected in slot %d", slots, deadSlot)
			}
			return nil
		})
		checkDiverse(t, "round 3", slots)
		for _, tn := range []*testNode{g1, l1} {
			if c, _ := a.book.Contains(tn.id()); c != addrbook.Gold {
				t.Errorf("round 3: a connected host is in %v, want gold", c)
			}
		}
		l1Slot := deadSlot

		// Round 4: g1's channel stops; its slot refills, with g1 or g2.
		old := slots[g1Slot].ch
		old.Stop(errors.New("test: dropped"))
		waitFor(t, 2*time.Second, func() error {
			slots = viewSlots(o)
			s := slots[g1Slot]
			if s.ch == nil || s.ch == old || (s.peer != g1.id() && s.peer != g2.id()) {
				return fmt.Errorf("round 4: slot %d holds %v, want a new channel to g1 or g2", g1Slot, s)
			}
			return nil
		})
		checkDiverse(t, "round 4", slots)
		if slots[l1Slot].peer != l1.id() {
			t.Fatalf("round 4: slot %d lost l1", l1Slot)
		}

		// Round 5: SetSlots(1) stops the highest slot's channel with
		// ErrSlotRemoved and keeps slot 0's.
		keep, gone := slots[0], slots[1]
		o.SetSlots(1)
		select {
		case <-gone.ch.Done():
		case <-time.After(time.Second):
			t.Fatal("round 5: the removed slot's channel did not stop")
		}
		if !errors.Is(gone.ch.Err(), ErrSlotRemoved) {
			t.Fatalf("round 5: the removed slot's channel stopped with %v, want ErrSlotRemoved", gone.ch.Err())
		}
		waitFor(t, time.Second, func() error {
			if st := a.book.State(gone.peer); st != addrbook.Free {
				return fmt.Errorf("round 5: the removed slot's host is %v, want free", st)
			}
			return nil
		})
		// Virtual time (synctest): wait out the slot's retry timer to
		// see that nothing refills the removed slot.
		time.Sleep(time.Second)
		slots = viewSlots(o)
		if len(slots) != 1 || slots[0].ch != keep.ch {
			t.Fatalf("round 5: slots %v, want slot 0 unchanged with %v", slots, keep.ch)
		}
		select {
		case <-keep.ch.Done():
			t.Fatal("round 5: slot 0's channel stopped")
		default:
		}
	})
}
