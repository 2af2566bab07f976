package integration

import (
	"context"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
)

// The direct session reuses a channel for concurrent users, counts them,
// and closes the channel when the last one releases it; a peer we already
// have a channel with is served from that channel.
func TestDirectChannels(t *testing.T) {
	a := startNode(t, "a", testSettings(t))
	b := startNode(t, "b", testSettings(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := nodeinternal.Direct(a)
	type got struct {
		ch      *channel.Channel
		release func()
		err     error
	}
	results := make(chan got, 3)
	for range 3 {
		go func() {
			ch, rel, err := d.Get(ctx, addrOf(t, b))
			results <- got{ch, rel, err}
		}()
	}
	var first *channel.Channel
	var releases []func()
	for range 3 {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if first == nil {
			first = r.ch
		}
		if r.ch != first {
			t.Fatal("concurrent requests got different channels")
		}
		releases = append(releases, r.release)
	}
	if first.Session() != channel.Direct || d.Users(first) != 3 {
		t.Fatalf("session %v, users %d; want direct, 3", first.Session(), d.Users(first))
	}
	releases[0]()
	releases[1]()
	if first.Err() != nil {
		t.Fatal("channel closed while a user holds it")
	}
	releases[2]()
	eventually(t, 10*time.Second, func() error {
		if len(a.Channels())+len(b.Channels()) != 0 {
			return errorf("direct channel still open after the last release")
		}
		return nil
	})

	// With a channel already there (b dials a), Get returns it and its
	// release leaves it open.
	if _, err := b.Connect(ctx, addrOf(t, a), channel.Manual); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if len(a.Channels()) != 1 {
			return errorf("no inbound channel yet")
		}
		return nil
	})
	ch, release, err := d.Get(ctx, addrOf(t, b))
	if err != nil || ch.Session() != channel.Inbound {
		t.Fatalf("got %v, %v; want the existing inbound channel", ch, err)
	}
	release()
	if ch.Err() != nil {
		t.Error("release closed a channel the direct session does not own")
	}
}
