package chaos

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/dnode-p2p/dnode/protocols/pb"
	relaypb "github.com/dnode-p2p/dnode/relay/pb"
)

// malformed is one kind of bad frame.
type malformed struct {
	name       string
	proto      protocol.ID // the stream it is sent on
	handshake  bool        // sent after a completed handshake (else instead of one)
	bytes      []byte
	closeWrite bool // the stream's write side is closed after it (truncation)
	ban        bool // docs/protocol.md makes it a violation: the sender is banned
}

func varint(n uint64) []byte { return binary.AppendUvarint(nil, n) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func garbage(n int) []byte { return bytes.Repeat([]byte{0xff}, n) }

// malformedKinds are the frames of the attack: every way of breaking the
// framing (huge, overflowing and non-minimal lengths, oversize,
// truncation, garbage after a valid frame) and messages of the wrong type
// or breaking a message rule, on each protocol.
func malformedKinds() []malformed {
	version := frame(&pb.Version{AppName: appName, AppVersion: appVersion, Timestamp: uint64(time.Now().Unix())})
	ping := frame(&pb.PingMessage{Body: &pb.PingMessage_Ping{Ping: &pb.Ping{Nonce: 1}}})
	hello := frame(&relaypb.Frame{Body: &relaypb.Frame_Hello{Hello: &relaypb.Hello{}}})
	longLists := &pb.Version{AppName: appName, AppVersion: appVersion}
	for range 17 {
		longLists.ExternalAddrs = append(longLists.ExternalAddrs, []byte{0})
	}
	maxVarint := cat(garbage(9), []byte{0x01})   // 2^64-1: ten bytes, valid
	overflow10 := cat(garbage(9), []byte{0x02})  // ten bytes, past 64 bits
	overflow11 := cat(garbage(10), []byte{0x01}) // eleven bytes
	nonMinimal := []byte{0x85, 0x00}             // 5 written in two bytes
	wrongType := frame(&pb.AddrMessage{Body: &pb.AddrMessage_GetAddrs{GetAddrs: &pb.GetAddrs{Max: 5}}})
	ks := []malformed{
		{name: "version huge varint", proto: versionID, bytes: maxVarint, ban: true},
		{name: "version overflowing varint (10 bytes)", proto: versionID, bytes: overflow10, ban: true},
		{name: "version overflowing varint (11 bytes)", proto: versionID, bytes: overflow11, ban: true},
		{name: "version non-minimal varint", proto: versionID, bytes: cat(nonMinimal, garbage(5)), ban: true},
		{name: "version oversize", proto: versionID, bytes: cat(varint(5000), garbage(5000)), ban: true},
		{name: "version truncated", proto: versionID, bytes: cat(varint(100), version[:10]), closeWrite: true, ban: true},
		{name: "version truncated length", proto: versionID, bytes: []byte{0x80}, closeWrite: true, ban: true},
		{name: "version undecodable", proto: versionID, bytes: cat(varint(3), garbage(3)), ban: true},
		{name: "version lists too long", proto: versionID, bytes: frame(longLists), ban: true},
		{name: "version garbage after", proto: versionID, bytes: cat(version, garbage(32)), ban: true},
		// An AddrMessage read as a Version names another app: incompatible,
		// which bans only outbound peers (DarkFi's rule).
		{name: "version wrong type", proto: versionID, bytes: wrongType},
		{name: "ping huge varint", proto: pingID, handshake: true, bytes: maxVarint, ban: true},
		{name: "ping overflowing varint", proto: pingID, handshake: true, bytes: overflow11, ban: true},
		{name: "ping oversize", proto: pingID, handshake: true, bytes: cat(varint(33), garbage(33)), ban: true},
		{name: "ping truncated", proto: pingID, handshake: true, bytes: cat(varint(10), ping[1:4]), closeWrite: true, ban: true},
		{name: "ping empty message", proto: pingID, handshake: true, bytes: varint(0), ban: true},
		{name: "ping wrong type", proto: pingID, handshake: true, bytes: frame(&pb.Verack{AppName: "x"}), ban: true},
		{name: "ping garbage after", proto: pingID, handshake: true, bytes: cat(ping, garbage(16)), ban: true},
		{name: "addr oversize", proto: addrID, handshake: true, bytes: cat(varint(70000), garbage(100)), ban: true},
		{name: "addr empty message", proto: addrID, handshake: true, bytes: varint(0), ban: true},
		{name: "relay empty frame", proto: relayID, handshake: true, bytes: varint(0), ban: true},
		{name: "relay garbage after", proto: relayID, handshake: true, bytes: cat(hello, garbage(16)), ban: true},
		{name: "relay overflowing varint", proto: relayID, handshake: true, bytes: overflow10, ban: true},
	}
	return ks
}

// TestDaemonMalformedFrames: connections with fresh identities, each sending
// frames of one malformed kind (cycling over the kinds), one per stream
// until the daemon closes the connection. Each connection must be closed,
// and its identity banned exactly when the kind is a violation.
func TestDaemonMalformedFrames(t *testing.T) {
	fullOnly(t)
	sz := sizes()
	kinds := malformedKinds()
	var wantBans atomic.Int64
	// The default handshake timeout: an inbound connection is reaped if its
	// version stream is not open within it, which under load could close a
	// connection before its first malformed frame is read.
	runAttack(t, "malformed", daemonConfig{inbound: 64, handshake: "10s"}, func(t *testing.T, d *daemon) string {
		var sent atomic.Int64
		var wg sync.WaitGroup
		work := make(chan int)
		errs := make(chan error, sz.malformedConns)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					k := kinds[i%len(kinds)]
					n, err := malformedConn(d, k, sz.malformedFrames, i < len(kinds))
					sent.Add(int64(n))
					if err != nil {
						errs <- fmt.Errorf("connection %d (%s): %w", i, k.name, err)
					}
					if k.ban {
						wantBans.Add(1)
					}
				}
			}()
		}
		for i := range sz.malformedConns {
			work <- i
		}
		close(work)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		return fmt.Sprintf("%d connections, %d kinds, %d frames sent, %d bans due", sz.malformedConns, len(kinds), sent.Load(), wantBans.Load())
	})
}

// malformedConn runs one attacking connection: a fresh identity, the
// handshake if k needs one, then up to frames streams each carrying k's
// bytes. It checks that the daemon closes the connection and bans the
// identity exactly when k.ban (on its black list; with retry, also by
// trying a new channel, refused when banned). It returns how many frames
// were written.
func malformedConn(d *daemon, k malformed, frames int, retry bool) (int, error) {
	w, err := makeWirePeer()
	if err != nil {
		return 0, err
	}
	defer w.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ai := d.AddrInfo()
	if k.handshake {
		if err := w.handshake(ctx, ai, pingID, addrID, relayID); err != nil {
			return 0, fmt.Errorf("handshake: %w", err)
		}
	} else if err := w.h.Connect(ctx, ai); err != nil {
		return 0, err
	}
	sent := 0
	for range frames {
		if len(w.h.Network().ConnsToPeer(ai.ID)) == 0 {
			break // closed by the daemon, as it should be
		}
		s, err := w.writeRaw(ctx, ai.ID, k.proto, k.bytes, k.closeWrite)
		if err != nil {
			if sent == 0 {
				return 0, fmt.Errorf("first frame not sent: %w", err)
			}
			break
		}
		sent++
		defer s.Reset()
	}
	if sent == 0 {
		return 0, fmt.Errorf("no frame could be sent")
	}
	// A Version of another app is only refused after the Verack that never
	// comes: the handshake timeout (10 s) closes that connection.
	if err := w.closedWithin(ai.ID, 20*time.Second); err != nil {
		return sent, err
	}
	listed, err := d.blacklisted(w.h.ID())
	if err != nil {
		return sent, err
	}
	if listed != k.ban {
		return sent, fmt.Errorf("on the black list = %v, want %v", listed, k.ban)
	}
	if retry || !k.ban {
		if banned := w.banned(ctx, ai); banned != k.ban {
			return sent, fmt.Errorf("new channel refused = %v, want %v", banned, k.ban)
		}
	}
	return sent, nil
}
