package channel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
)

func TestKindOf(t *testing.T) {
	dup := Because(StopDuplicate, errors.New("duplicate"))
	for _, tc := range []struct {
		err  error
		want StopKind
	}{
		{nil, StopLocal},
		{ErrStopped, StopLocal},
		{fmt.Errorf("x: %w", ErrStopped), StopLocal},
		{dup, StopDuplicate},
		{fmt.Errorf("wrapped: %w", dup), StopDuplicate},
		{Because(StopBanned, errors.New("banned: spam")), StopBanned},
		{Because(StopEvicted, errors.New("evicted for a better peer")), StopEvicted},
		{fmt.Errorf("%w: bad frame", ErrViolation), StopViolation},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), StopTimeout},
		{context.DeadlineExceeded, StopTimeout},
		{errors.New("stream reset"), StopClosed},
	} {
		if got := KindOf(tc.err); got != tc.want {
			t.Errorf("KindOf(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestStopReason(t *testing.T) {
	inner := errors.New("connection closed")
	r := reasonOf(inner)
	if r.Kind != StopClosed || r.Error() != inner.Error() || !errors.Is(r, inner) {
		t.Fatalf("reasonOf(%v) = %+v", inner, r)
	}
	if errors.Is(r, ErrStopped) {
		t.Fatal("a closed connection reads as a local stop")
	}
	if r := reasonOf(nil); r.Kind != StopLocal || !errors.Is(r, ErrStopped) {
		t.Fatalf("reasonOf(nil) = %+v", r)
	}
	local := Because(StopLocal, errors.New("network stopped"))
	if reasonOf(local) != local || !errors.Is(local, ErrStopped) {
		t.Fatal("a StopReason is not kept as it is, or a local one is not ErrStopped")
	}
	for k, want := range []string{"local", "duplicate", "banned", "closed", "timeout", "violation", "evicted"} {
		if got := StopKind(k).String(); got != want {
			t.Errorf("StopKind(%d) = %q, want %q", k, got, want)
		}
	}
	if s := StopKind(200).String(); s != "unknown" {
		t.Fatalf("String of an unknown kind = %q", s)
	}
}
