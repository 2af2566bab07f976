package chaos_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/protocols/addr"
	"github.com/dnode-p2p/dnode/protocols/pb"
	"github.com/dnode-p2p/dnode/protocols/ping"
	"github.com/dnode-p2p/dnode/protocols/version"
	"github.com/dnode-p2p/dnode/relay"
	relaypb "github.com/dnode-p2p/dnode/relay/pb"
)

// target is one of the victim's protocols: its ID, its frame cap, a valid
// message and a message of another protocol's type that does not decode
// as one of its own.
type target struct {
	name      string
	id        protocol.ID
	cap       int
	valid     proto.Message
	wrongType proto.Message
	handshake bool // attacked after completing the version handshake
}

func targets() []target {
	ver := &pb.Version{AppName: "dnode", AppVersion: dnode.Version}
	return []target{
		{name: "version", id: versionID, cap: version.MaxVersionBytes, valid: ver,
			// field 2 (app_version) holding bytes that are not UTF-8
			wrongType: &pb.PingMessage{Body: &pb.PingMessage_Pong{Pong: &pb.Pong{Nonce: ^uint64(0)}}}},
		{name: "ping", id: pingID, cap: ping.MaxBytes, handshake: true,
			valid:     &pb.PingMessage{Body: &pb.PingMessage_Ping{Ping: &pb.Ping{Nonce: 1}}},
			wrongType: ver},
		{name: "addr", id: addrID, cap: addr.MaxBytes, handshake: true,
			valid:     &pb.AddrMessage{Body: &pb.AddrMessage_GetAddrs{GetAddrs: &pb.GetAddrs{Max: 1}}},
			wrongType: ver},
		{name: "relay", id: relayID, cap: relay.DefaultMaxMessageSize + 64<<10, handshake: true,
			valid:     &relaypb.Frame{Body: &relaypb.Frame_Hello{Hello: &relaypb.Hello{}}},
			wrongType: ver},
	}
}

// frameKind makes one malformed frame for a target.
type frameKind struct {
	name string
	make func(tg target) []byte
	last bool // the stream's write side is closed after it (it must be the last)
}

func frameOf(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
}

func repeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

var frameKinds = []frameKind{
	{name: "huge-varint", make: func(target) []byte { return binary.AppendUvarint(nil, 1<<62) }},
	{name: "overflowing-varint", make: func(target) []byte { return append(repeat(0xff, 9), 0x7f) }},
	{name: "too-long-varint", make: func(target) []byte { return append(repeat(0x80, 10), 0x01) }},
	{name: "non-minimal-varint", make: func(target) []byte { return []byte{0x85, 0x00, 1, 2, 3, 4, 5} }},
	{name: "oversize", make: func(tg target) []byte {
		// The payload follows only its header: the victim must refuse the
		// frame on its length. A burst carries one oversize payload at most
		// (see burst), so that attackers in this process do not starve it.
		return binary.AppendUvarint(nil, uint64(tg.cap+1))
	}},
	{name: "wrong-type", make: func(tg target) []byte { return frameOf(tg.wrongType) }},
	{name: "garbage-after-valid", make: func(tg target) []byte { return append(frameOf(tg.valid), repeat(0xff, 16)...) }},
	{name: "truncated", last: true, make: func(tg target) []byte {
		return append(binary.AppendUvarint(nil, uint64(min(tg.cap, 24))), 1, 2, 3)
	}},
}

// burst is what attacker i writes: frames malformed frames, the first of
// kind i mod len(frameKinds), then the others in turn.
func burst(tg target, first, frames int) (b []byte, kinds []string) {
	for j := range frames {
		k := frameKinds[(first+j)%len(frameKinds)]
		if k.last && j > 0 {
			continue
		}
		b = append(b, k.make(tg)...)
		if k.name == "oversize" && j == 0 {
			b = append(b, make([]byte, tg.cap+1)...)
		}
		kinds = append(kinds, k.name)
		if k.last {
			break
		}
	}
	return b, kinds
}

// Attackers with fresh identities each send a burst of malformed frames
// on one of the victim's protocols (the version stream before the
// handshake, ping, addr and relay after it): every attacker is banned and
// disconnected and cannot come back, the honest prober's pings keep
// answering, and resources return near baseline.
func TestInProcessMalformedFrames(t *testing.T) {
	sz := sizes()
	v := startVictim(t, victimSettings(t, sz.malformedConns+8), relay.Config{})
	p := newProber(t, v.node)
	m := startMeter(t)
	tgs := targets()

	type result struct {
		id    string
		tg    string
		first string
		err   error
	}
	results := make([]result, sz.malformedConns)
	cr := newCrowd(t)
	attackers := make([]*attacker, sz.malformedConns)
	st := p.during(func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range sz.malformedConns {
			tg := tgs[i%len(tgs)]
			first := (i + i/len(tgs)) % len(frameKinds)
			a := newAttacker(t, cr)
			attackers[i] = a
			b, kinds := burst(tg, first, sz.malformedFrames)
			results[i] = result{id: a.h.ID().String(), tg: tg.name, first: kinds[0]}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				results[i].err = a.send(v.node, tg, b, kinds[len(kinds)-1] == "truncated")
			})
		}
		wg.Wait()
		eventually(t, 15*time.Second, func() error {
			for i, a := range attackers {
				if !nodeinternal.Host(v.node).Gater.Banned(a.h.ID(), nil) {
					return fmt.Errorf("attacker %d (%s, first frame %s) not banned (send: %v)", i, results[i].tg, results[i].first, results[i].err)
				}
				if hasChannel(v.node, a.h.ID()) || len(a.h.Network().ConnsToPeer(v.node.ID())) > 0 {
					return fmt.Errorf("attacker %d (%s, %s) still connected", i, results[i].tg, results[i].first)
				}
			}
			return nil
		})
	})
	p.check(t, st)
	// A banned identity cannot come back.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, a := range attackers {
		if err := connect(ctx, a.h, v.node); err == nil {
			if _, err := a.h.NewStream(ctx, v.node.ID(), versionID); err == nil {
				t.Errorf("attacker %d reconnected after its ban", i)
			}
		}
	}
	attackers = nil
	cr.close()
	peers, _ := nodeinternal.Host(v.node).Gater.BanCounts()
	if peers < sz.malformedConns {
		t.Errorf("%d peer bans, want at least %d", peers, sz.malformedConns)
	}
	pstore := peerstoreSize(v)
	p.close()
	back := m.settle(t, sz.recover)
	m.report(t, fmt.Sprintf("malformed frames (%d connections × %d frames)", sz.malformedConns, sz.malformedFrames), back, st,
		fmt.Sprintf("; victim peerstore %d peers; bans %d/%d", pstore, peers, sz.malformedConns))
}

// attacker is a hostile plain go-libp2p host with a fresh identity. It
// drains whatever the victim sends it on dnode's protocols.
type attacker struct {
	h host.Host
}

// newAttacker returns an attacker owned by c.
func newAttacker(t testing.TB, c *crowd) *attacker {
	t.Helper()
	a := &attacker{h: newPlainHost(t)}
	c.add(a.h)
	for _, id := range []protocol.ID{pingID, addrID, relayID} {
		a.h.SetStreamHandler(id, func(s network.Stream) {
			_ = s.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, _ = io.Copy(io.Discard, s)
			s.Reset()
		})
	}
	return a
}

// send writes b on a new stream of tg (after the handshake if tg needs
// it), closes the write side if closeWrite, and reads until the victim
// ends the stream.
func (a *attacker) send(v *dnode.Node, tg target, b []byte, closeWrite bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if tg.handshake {
		if err := handshake(ctx, a.h, v, nil); err != nil {
			return err
		}
		for !hasChannel(v, a.h.ID()) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("no channel: %w", ctx.Err())
			case <-time.After(10 * time.Millisecond): // poll interval
			}
		}
	} else if err := connect(ctx, a.h, v); err != nil {
		return err
	}
	s, err := a.h.NewStream(ctx, v.ID(), tg.id)
	if err != nil {
		return err
	}
	defer s.Reset()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Write(b); err != nil {
		return nil // the victim reset the stream before reading it all
	}
	if closeWrite {
		_ = s.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, s)
	return nil
}
