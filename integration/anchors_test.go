package integration

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/internal/testnet"
)

// deadAddr is a loopback address that refuses every dial, of a fresh
// peer ID.
func deadAddr(t *testing.T) ma.Multiaddr { return testnet.DeadAddr(t) }

// A restarted node dials the hosts its outbound slots held at Stop
// (its anchors) before any slot picks from the book, even when its slots
// would otherwise pick greylist hosts first; the anchors file is consumed
// at start, so an anchor that fails is not tried again at the next start.
func TestRestartDialsAnchorsFirst(t *testing.T) {
	a := startNode(t, "a", testSettings(t))
	b := startNode(t, "b", testSettings(t))
	s := testSettings(t)
	s.Net.OutboundConnections = 3
	s.Net.KnownPeerPercent = 0 // every slot tries the greylist first
	anchorsFile := filepath.Join(s.Datastore, "hostlist.anchors.tsv")

	v := startNode(t, "v", s)
	s.Net.Inbound = []ma.Multiaddr{testnet.Bound(t, v)} // v-again listens where v did
	nodeinternal.Book(v).Insert("", []addrbook.Entry{
		{Addr: addrOf(t, a), Peer: a.ID(), LastSeen: time.Now()},
		{Addr: addrOf(t, b), Peer: b.ID(), LastSeen: time.Now()},
	})
	eventually(t, 20*time.Second, func() error {
		if filled(v) != 2 {
			return errorf("v fills %d slots, want 2", filled(v))
		}
		return nil
	})
	if err := v.Stop(); err != nil {
		t.Fatal(err)
	}
	saved, err := addrbook.LoadAnchors(anchorsFile)
	if err != nil {
		t.Fatal(err)
	}
	got := map[peer.ID]bool{}
	for _, e := range saved.Entries {
		got[e.Peer] = true
	}
	if len(saved.Entries) != 2 || !got[a.ID()] || !got[b.ID()] {
		t.Fatalf("anchors saved at stop: %v, want a and b", saved.Entries)
	}

	// Before the restart: a dead anchor between the two, and 40 dead
	// greylist hosts that the grey-first slots would otherwise dial first.
	dead := deadAddr(t)
	deadID, _ := peer.IDFromP2PAddr(dead)
	anchors := []addrbook.Entry{saved.Entries[0], {Addr: dead, Peer: deadID, LastSeen: time.Now()}, saved.Entries[1]}
	if err := addrbook.SaveAnchors(anchorsFile, anchors); err != nil {
		t.Fatal(err)
	}
	hostlist := s.HostlistPath()
	f, err := os.OpenFile(hostlist, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		fmt.Fprintf(f, "grey\t%s\t%d\n", deadAddr(t), time.Now().Unix())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	again := newNode(t, "v-again", s)
	sub := again.Events().Subscribe(4096)
	defer sub.Close()
	if err := again.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(anchorsFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("anchors file not consumed at start: %v", err)
	}
	// The first three dials are the anchors, anchor i in slot i (the
	// slots run concurrently, so the events may come in any order).
	var dials []events.Event
	deadline := time.After(20 * time.Second)
	for len(dials) < 3 {
		select {
		case e := <-sub.C():
			if e.Kind == events.OutboundSlotConnecting {
				dials = append(dials, e)
			}
		case <-deadline:
			t.Fatalf("only %d dials in 20 s: %+v", len(dials), dials)
		}
	}
	seen := map[int]bool{}
	for _, e := range dials {
		if e.Slot < 0 || e.Slot >= len(anchors) || seen[e.Slot] ||
			e.Addr != anchors[e.Slot].Addr.String() || e.State != "anchor" {
			t.Fatalf("dials %+v, want anchor i in slot i", dials)
		}
		seen[e.Slot] = true
	}
	eventually(t, 20*time.Second, func() error {
		peers := map[peer.ID]bool{}
		for _, ch := range again.Channels() {
			peers[ch.Peer()] = true
		}
		if !peers[a.ID()] || !peers[b.ID()] {
			return errorf("restarted node not back with a and b: %v", peers)
		}
		return nil
	})
	// The dead anchor went through Failed like any dialed host.
	eventually(t, 20*time.Second, func() error {
		if st := nodeinternal.Book(again).State(deadID); st != addrbook.Suspend {
			return errorf("dead anchor in state %s", st)
		}
		return nil
	})
	if err := again.Stop(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(anchorsFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), deadID.String()) {
		t.Fatalf("the dead anchor was saved again:\n%s", data)
	}
	for _, n := range []peer.ID{a.ID(), b.ID()} {
		if !strings.Contains(string(data), n.String()) {
			t.Fatalf("live anchor %s not saved again:\n%s", n, data)
		}
	}
}
