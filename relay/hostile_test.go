package relay

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/protocols/version"
	"github.com/dnode-p2p/dnode/relay/pb"
	"github.com/dnode-p2p/dnode/settings"
)

// hostile is a plain go-libp2p host that completes dnode's handshake
// with a node and then writes whatever a test wants on its relay stream.
// Frames the node sends it are read and counted.
type hostile struct {
	t  testing.TB
	h  host.Host
	s  network.Stream
	w  *bufio.Writer
	id peer.ID // the node's
}

const relayID = protocol.ID("/dnode/test/relay/1.0.0")

func newHostile(t testing.TB, target *tnode) *hostile {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	// Read and drop what the node sends on its relay stream.
	h.SetStreamHandler(relayID, func(s network.Stream) { _, _ = io.Copy(io.Discard, s); s.Reset() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ai := peer.AddrInfo{ID: target.node.ID(), Addrs: nodeinternal.Host(target.node).Addrs()}
	if err := h.Connect(ctx, ai); err != nil {
		t.Fatal(err)
	}
	vs, err := h.NewStream(ctx, ai.ID, version.ID("test"))
	if err != nil {
		t.Fatal(err)
	}
	local := version.Local{AppName: "dnode", AppVersion: dnode.Version}
	if _, err := version.Exchange(ctx, vs, vs, local, nil, 5*time.Second, time.Now()); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	vs.Close()
	testnet.Eventually(t, 10*time.Second, func() error {
		if target.relay.Stats().Links == 0 {
			return fmt.Errorf("the node has no relay link to the hostile peer")
		}
		return nil
	})
	s, err := h.NewStream(ctx, ai.ID, relayID)
	if err != nil {
		t.Fatal(err)
	}
	return &hostile{t: t, h: h, s: s, w: bufio.NewWriterSize(s, 64<<10), id: ai.ID}
}

// raw writes a frame of raw bytes.
func (x *hostile) raw(b []byte) error {
	buf := binary.AppendUvarint(nil, uint64(len(b)))
	if _, err := x.w.Write(append(buf, b...)); err != nil {
		return err
	}
	return x.w.Flush()
}

// send writes frames; it returns the first write error (the node may
// have reset the stream already).
func (x *hostile) send(frames ...*pb.Frame) error {
	for _, f := range frames {
		b, err := proto.Marshal(f)
		if err != nil {
			x.t.Fatal(err)
		}
		buf := binary.AppendUvarint(nil, uint64(len(b)))
		if _, err := x.w.Write(append(buf, b...)); err != nil {
			return err
		}
	}
	return x.w.Flush()
}

// message returns a valid message frame from the hostile peer.
func (x *hostile) message(topic string, data []byte) *pb.Frame {
	return &pb.Frame{Body: &pb.Frame_Message{Message: &pb.Message{
		Topic: topic, Origin: []byte(x.h.ID()), Time: uint64(time.Now().UnixNano()), Data: data,
	}}}
}

// waitBanned waits until target banned the hostile peer and dropped
// its channel.
func (x *hostile) waitBanned(target *tnode) {
	x.t.Helper()
	testnet.Eventually(x.t, 15*time.Second, func() error {
		if !nodeinternal.Host(target.node).Gater.Banned(x.h.ID(), nil) {
			return fmt.Errorf("hostile peer not banned; relay stats %+v", target.relay.Stats().Dropped)
		}
		if len(x.h.Network().ConnsToPeer(x.id)) != 0 {
			return fmt.Errorf("hostile peer still connected")
		}
		return nil
	})
}

// slowPing keeps a channel to a peer that answers no ping up for a
// test's length.
func slowPing(s *settings.Settings) {
	for name, p := range s.Net.Profiles {
		p.ChannelHeartbeatInterval = time.Minute
		p.OutboundConnectTimeout = time.Minute
		s.Net.Profiles[name] = p
	}
}

func randomShorts(n int) []byte {
	b := make([]byte, n*shortLen)
	_, _ = rand.Read(b)
	return b
}

// TestHostilePeers: each kind of bad relay input from a peer ends in a
// counted drop and a ban, never a crash or unbounded state; an honest
// neighbour of the target sees at most what the limits let through.
func TestHostilePeers(t *testing.T) {
	t.Parallel()
	big := make([]byte, 2000)
	cases := []struct {
		name   string
		cfg    Config
		attack func(x *hostile) error
		reason string // drop reason that must be counted ("" for a channel-level violation)
	}{
		{"garbage frame", Config{}, func(x *hostile) error { return x.raw([]byte{0xff, 0xff, 0xff, 0xff}) }, ""},
		{"empty frame", Config{}, func(x *hostile) error { return x.send(&pb.Frame{}) }, "malformed"},
		{"ihave of a bad length", Config{}, func(x *hostile) error {
			return x.send(&pb.Frame{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: []byte{1, 2, 3}, Hops: []byte{1}}}})
		}, "malformed"},
		{"hello with a bad topic", Config{}, func(x *hostile) error {
			return x.send(&pb.Frame{Body: &pb.Frame_Hello{Hello: &pb.Hello{Topics: []string{""}}}})
		}, "malformed"},
		{"message with a bad origin", Config{}, func(x *hostile) error {
			f := x.message(testTopic, []byte("x"))
			f.GetMessage().Origin = []byte("not a peer id")
			return x.send(f)
		}, "malformed"},
		{"message over max_message_size", Config{MaxMessageSize: 1000}, func(x *hostile) error {
			return x.send(x.message(testTopic, big))
		}, "too_large"},
		{"frame over the stream cap", Config{MaxMessageSize: 1000}, func(x *hostile) error {
			return x.send(x.message(testTopic, make([]byte, 100<<10)))
		}, ""},
		{"flood of fresh ids", Config{MeterMessages: 200}, func(x *hostile) error {
			for i := range 1000 {
				if err := x.send(x.message(testTopic, fmt.Appendf(nil, "fresh %d", i))); err != nil {
					return nil // reset by the ban
				}
			}
			return nil
		}, "metering"},
		{"flood of announcements of unknown ids", Config{UnknownLimit: 50}, func(x *hostile) error {
			return x.send(&pb.Frame{Body: &pb.Frame_Ihave{Ihave: &pb.IHave{Ids: randomShorts(MaxDigest), Hops: make([]byte, MaxDigest)}}})
		}, "unknown"},
		{"flood of fetches of unknown ids", Config{}, func(x *hostile) error {
			return x.send(&pb.Frame{Body: &pb.Frame_Iwant{Iwant: &pb.IWant{Ids: randomShorts(MaxDigest)}}})
		}, "unknown"},
		{"flood of grafts of unknown ids", Config{}, func(x *hostile) error {
			return x.send(&pb.Frame{Body: &pb.Frame_Graft{Graft: &pb.Graft{Fetch: randomShorts(MaxDigest)}}})
		}, "unknown"},
		{"digest of unknown ids", Config{UnknownLimit: 50}, func(x *hostile) error {
			return x.send(&pb.Frame{Body: &pb.Frame_Digest{Digest: &pb.Digest{Ids: randomShorts(MaxDigest)}}})
		}, "unknown"},
		{"messages the validator rejects", Config{}, func(x *hostile) error {
			for i := range 20 {
				if err := x.send(x.message("rejected", fmt.Appendf(nil, "bad %d", i))); err != nil {
					return nil
				}
			}
			return nil
		}, "validation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := newTNode(t, c.cfg, "target", slowPing)
			if err := target.relay.SetValidator("rejected", func(context.Context, peer.ID, *Message) ValidationResult {
				return ValidationReject
			}); err != nil {
				t.Fatal(err)
			}
			honest := newTNode(t, Config{}, "honest", slowPing)
			connect(t, honest, target)
			evs := target.node.Events().Subscribe(4096)
			defer evs.Close()
			x := newHostile(t, target)
			if err := c.attack(x); err != nil {
				// The node may reset the stream before the attack is
				// written out; the ban below is what counts.
				t.Logf("attack: %v", err)
			}
			x.waitBanned(target)
			st := target.relay.Stats()
			if c.reason != "" && st.Dropped[c.reason] == 0 {
				t.Errorf("no %s drop counted: %v", c.reason, st.Dropped)
			}
			if c.reason != "" {
				// ... and published as a relay_drop event.
				deadline := time.After(5 * time.Second)
			wait:
				for {
					select {
					case e := <-evs.C():
						if e.Kind == events.RelayDrop && e.State == c.reason {
							break wait
						}
					case <-deadline:
						t.Errorf("no relay_drop event with state %s", c.reason)
						break wait
					}
				}
			}
			// Nothing is left pending for the gone peer, and the honest
			// neighbour got no more than the metering let through.
			testnet.Eventually(t, 15*time.Second, func() error {
				if p := target.relay.Stats().Pending; p != 0 {
					return fmt.Errorf("%d fetches still pending", p)
				}
				return nil
			})
			limit := uint64(target.relay.Config().MeterMessages)
			if got := honest.relay.Stats().Received; got > limit {
				t.Errorf("the honest neighbour received %d of the attacker's messages, more than the %d metering allows", got, limit)
			}
			// The target still relays between honest peers.
			id, err := target.topic.Publish(context.Background(), []byte("still here"))
			if err != nil {
				t.Fatal(err)
			}
			testnet.Eventually(t, 10*time.Second, func() error {
				if honest.count(id) != 1 {
					return fmt.Errorf("the honest neighbour did not get the target's message")
				}
				return nil
			})
		})
	}
}
