package sessions

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols/addr"
)

// A protocol job that ignores its context holds its channel open: the
// Stops of the outbound and direct sessions and of the Manager return at
// their deadline anyway, each with an error naming what did not stop and
// wrapping context.DeadlineExceeded; once the job returns, everything
// ends (the bubble checks that no goroutine is left) and the Stops
// return nil.
func TestStopUnderDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newSimNet(t)
		s := simSettings()
		s.Net.OutboundConnections = 1
		a := n.node("11.0.0.1", &s)
		b, c := n.node("12.0.0.1", nil), n.node("13.0.0.1", nil)
		release := make(chan struct{})
		a.m.OnChannel(func(ch *channel.Channel) {
			ch.Go(func(context.Context) { <-release }) // ignores its context
		})
		o := NewOutbound(a.m, addr.New(addr.Config{}), NewSeedSync(a.m, nil))
		d := NewDirect(a.m)
		a.book.Insert(testPeer(t), []addrbook.Entry{b.entry()})
		o.Start()
		direct, done, err := d.Get(context.Background(), c.addr)
		if err != nil {
			t.Fatalf("direct Get: %v", err)
		}
		defer done()
		waitFor(t, time.Second, func() error {
			if a.m.Channel(b.id()) == nil {
				return errors.New("no outbound channel")
			}
			return nil
		})
		outbound := a.m.Channel(b.id())

		stop := func(what string, f func(context.Context) error, names ...string) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			began := time.Now()
			err := f(ctx)
			if took := time.Since(began); took != time.Second {
				t.Errorf("%s returned after %s, want the 1 s deadline", what, took)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s = %v, want a deadline error", what, err)
			}
			for _, name := range names {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("%s = %v, want it to name %q", what, err, name)
				}
			}
		}
		stop("Outbound.Stop", o.Stop, "outbound slots")
		stop("Manager.Stop", a.m.Stop, "channels still running (2)", outbound.String(), direct.String())
		stop("Direct.Stop", d.Stop, "direct channels")

		close(release)
		for _, ch := range []*channel.Channel{outbound, direct} {
			<-ch.Done()
			if !errors.Is(ch.Err(), ErrStopped) {
				t.Errorf("%v stopped with %v, want ErrStopped", ch, ch.Err())
			}
		}
		ctx := context.Background()
		for what, f := range map[string]func(context.Context) error{"Outbound": o.Stop, "Manager": a.m.Stop, "Direct": d.Stop} {
			began := time.Now()
			if err := f(ctx); err != nil || time.Since(began) != 0 {
				t.Errorf("%s.Stop after the job returned: %v after %s, want nil at once", what, err, time.Since(began))
			}
		}
	})
}
