package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	dnode "github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols"
)

// Node.Stop keeps its deadline when an application job ignores its
// context: it returns within StopTimeout (plus slack for a loaded
// machine) and its error names the channel still running and wraps
// context.DeadlineExceeded. Once the job is released, nothing of the node
// is left running.
func TestStopKeepsDeadlineWhenAJobIgnoresItsContext(t *testing.T) {
	before := goleak.IgnoreCurrent()
	release := make(chan struct{})
	a := newNode(t, "a", testSettings(t))
	err := a.Registry().Register(protocols.Registration{
		Name:     "stuck",
		Sessions: channel.Default,
		Specs:    []*channel.Spec{appProto.Spec()},
		New: func(ch *channel.Channel) (protocols.Protocol, error) {
			return startFunc(func(context.Context) error {
				ch.Go(func(context.Context) { <-release }) // ignores its context
				return nil
			}), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := startNode(t, "b", testSettings(t))
	// a dials b on its outbound path (the manual session's kind), so
	// that a's outbound side also waits for the stuck channel.
	if _, err := a.Connect(context.Background(), addrOf(t, b), channel.Manual); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err = a.Stop()
	took := time.Since(began)
	close(release)
	if limit := dnode.StopTimeout + 2*time.Second; took > limit {
		t.Fatalf("Stop took %v, want at most %v", took, limit)
	}
	if err == nil {
		t.Fatal("Stop returned nil with a job still running")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("Stop error %q does not report the straggler", err)
	}
	t.Logf("Stop took %v: %v", took, err)
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, append(goleakOptions(), before)...)
}
