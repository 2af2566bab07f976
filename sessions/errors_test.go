package sessions

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dnode-p2p/dnode/channel"
)

// One "stopped" sentinel: errors.Is matches it under either package's
// name, wrapped or not, and a channel stopped with it stopped locally.
func TestOneErrStopped(t *testing.T) {
	for _, err := range []error{ErrStopped, channel.ErrStopped, fmt.Errorf("connect: %w", ErrStopped)} {
		if !errors.Is(err, ErrStopped) || !errors.Is(err, channel.ErrStopped) {
			t.Errorf("%v: not both ErrStopped", err)
		}
		if k := channel.KindOf(err); k != channel.StopLocal {
			t.Errorf("KindOf(%v) = %s, want local", err, k)
		}
	}
	if errors.Is(ErrDuplicate, ErrStopped) || channel.KindOf(ErrDuplicate) != channel.StopDuplicate {
		t.Error("ErrDuplicate reads as a local stop")
	}
}
