package chaos

import (
	"bufio"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	relaypb "github.com/dnode-p2p/dnode/relay/pb"
)

// TestDaemonRelayFlood: a channel that sends dchat messages with fresh
// ids (valid texts, 256 origins, increasing times) as fast as it can.
// The relay's receive metering (meter_messages per meter_window) turns it
// into a violation: the sender is banned and its connection closed. The
// relay keeps what it accepted by design, bounded: message ids for
// history_age + 1 min (at most 100000), its history (4096 messages,
// 16 MiB) and trees (16384): 64 MiB of heap and RSS are allowed for it.
func TestDaemonRelayFlood(t *testing.T) {
	fullOnly(t)
	sz := sizes()
	runAttack(t, "relay-flood", daemonConfig{inbound: 64, meterMessages: sz.meterMessages, retainKB: 64 << 10}, func(t *testing.T, d *daemon) string {
		origins := make([][]byte, 256)
		for i := range origins {
			_, pub, err := crypto.GenerateEd25519Key(nil)
			if err != nil {
				t.Fatal(err)
			}
			id, err := peer.IDFromPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			origins[i] = []byte(id)
		}
		w := newWirePeer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ai := d.AddrInfo()
		if err := w.handshake(ctx, ai, pingID, relayID); err != nil {
			t.Fatal(err)
		}
		s, err := w.h.NewStream(ctx, ai.ID, relayID)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Reset()
		_ = s.SetWriteDeadline(time.Now().Add(60 * time.Second))
		bw := bufio.NewWriterSize(s, 64<<10)
		_, _ = bw.Write(frame(&relaypb.Frame{Body: &relaypb.Frame_Hello{Hello: &relaypb.Hello{}}}))
		start := time.Now()
		base := uint64(start.UnixNano())
		sent := 0
		for ; sent < sz.relayMessages; sent++ {
			m := &relaypb.Message{Topic: "dchat", Origin: origins[sent%len(origins)], Time: base + uint64(sent), Data: []byte("flood")}
			if _, err := bw.Write(frame(&relaypb.Frame{Body: &relaypb.Frame_Message{Message: m}})); err != nil {
				break // the daemon closed the stream
			}
		}
		_ = bw.Flush()
		took := time.Since(start)
		if sent < sz.meterMessages {
			t.Errorf("only %d messages written, fewer than meter_messages %d", sent, sz.meterMessages)
		}
		if err := w.closedWithin(ai.ID, 20*time.Second); err != nil {
			t.Fatalf("the flooder's connection: %v", err)
		}
		listed, err := d.blacklisted(w.h.ID())
		if err != nil {
			t.Fatal(err)
		}
		if !listed {
			t.Error("the relay flooder is not on the black list")
		}
		if !w.banned(ctx, ai) {
			t.Error("the relay flooder got a new channel")
		}
		return fmt.Sprintf("meter_messages %d; %d messages written in %s before the connection closed", sz.meterMessages, sent, took.Round(time.Millisecond))
	}, func(t *testing.T, r report) {
		if r.bans != 1 {
			t.Errorf("relay flood: %d bans, want 1", r.bans)
		}
	})
}
