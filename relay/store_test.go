package relay

import (
	"testing"
	"time"
)

// When the seen set is full, forgotten ids raise the floor: a message
// not newer than the newest forgotten one is refused as expired, so a
// replay of a forgotten message is not delivered twice.
func TestSeenFloorRefusesReplays(t *testing.T) {
	t.Parallel()
	h := newEH(t, Config{}, 1)
	h.e.store.seenMax = 3
	var ins []*incoming
	for i := range 5 {
		in := h.mk(string(rune('a'+i)), 0)
		ins = append(ins, in)
		if got := describe(h.recv(1, in)); len(got) != 1 || got[0] != "deliver" {
			t.Fatalf("message %d: %v", i, got)
		}
		time.Sleep(time.Microsecond) // distinct times
	}
	// The first two were forgotten; replaying the first is refused.
	if got := describe(h.recv(1, ins[0])); len(got) != 1 || got[0] != "drop expired" {
		t.Errorf("replay of a forgotten message: %v, want drop expired", got)
	}
	// A newer message is still accepted.
	if got := describe(h.recv(1, h.mk("new", 0))); len(got) != 1 || got[0] != "deliver" {
		t.Errorf("a new message: %v", got)
	}
}
