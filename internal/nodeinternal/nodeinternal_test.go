package nodeinternal_test

import (
	"context"
	"errors"
	"testing"

	dnode "github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/internal/testnet"
)

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }

// The accessors answer for the running instance: nothing before Start,
// the run's host, manager, sessions and book while running, and after
// Stop only the last run's book.
func TestAccessorsFollowTheRun(t *testing.T) {
	n, err := dnode.New(testnet.Settings(t))
	if err != nil {
		t.Fatal(err)
	}
	if nodeinternal.Host(n) != nil || nodeinternal.Manager(n) != nil || nodeinternal.Book(n) != nil || nodeinternal.OutboundSlots(n) != nil || nodeinternal.Running(n) {
		t.Fatal("machinery before Start")
	}
	if _, err := nodeinternal.Seed(context.Background(), n); !errors.Is(err, dnode.ErrNotRunning) {
		t.Fatalf("Seed before Start: %v", err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h, m := nodeinternal.Host(n), nodeinternal.Manager(n)
	if h == nil || h.ID() != n.ID() || m == nil || nodeinternal.Manual(n) == nil || nodeinternal.Direct(n) == nil || nodeinternal.Book(n) == nil || !nodeinternal.Running(n) {
		t.Fatal("machinery missing while running")
	}
	if got, want := len(nodeinternal.OutboundSlots(n)), nodeinternal.Settings(n).Net.OutboundConnections; got != want {
		t.Fatalf("%d outbound slots, want %d", got, want)
	}
	if nodeinternal.HostlistSaveFailures(n) != 0 || nodeinternal.HostlistBadLines(n) != 0 || nodeinternal.RejectedBroadcasts(n) != 0 {
		t.Fatal("counters not zero on a fresh node")
	}
	book := nodeinternal.Book(n)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if nodeinternal.Host(n) != nil || nodeinternal.Manager(n) != nil || nodeinternal.Book(n) != book || nodeinternal.Running(n) {
		t.Fatal("after Stop: want not running, no host or manager, and the last run's book")
	}
}
