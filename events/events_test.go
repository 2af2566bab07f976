package events

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestBusDropsOldestAndGatesMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now() // virtual: stands still while the test runs
		b := NewBus()
		s := b.Subscribe(2)
		defer s.Close()
		b.Publish(Event{Kind: Send})
		for i := range 3 {
			b.Publish(Event{Kind: OutboundSlotSleeping, Slot: i})
		}
		if s.Dropped() != 1 {
			t.Fatalf("dropped = %d, want 1", s.Dropped())
		}
		for _, want := range []int{1, 2} {
			e := <-s.C()
			if e.Slot != want || !e.Time.Equal(start) {
				t.Fatalf("got %+v, want slot %d", e, want)
			}
		}
		b.SetMessages(true)
		b.Publish(Event{Kind: Recv, Cmd: "ping"})
		if e := <-s.C(); e.Kind != Recv {
			t.Fatalf("message event not delivered when switched on: %+v", e)
		}
		s.Close()
		if _, ok := <-s.C(); ok {
			t.Fatal("C not closed")
		}
		b.Publish(Event{Kind: NoPeers}) // no panic after close
	})
}
