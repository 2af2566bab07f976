package chaos_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/relay"
	relaypb "github.com/dnode-p2p/dnode/relay/pb"
)

// An attacker with a channel floods the relay stream with messages of
// fresh ids (valid ones: a new time each) as fast as the connection
// takes them: past meter_messages per meter_window the receive metering
// makes it a violation, and the attacker is banned and disconnected; the
// honest prober keeps answering and resources (the relay's history and
// seen-id table included) return near baseline.
func TestInProcessRelayFlood(t *testing.T) {
	sz := sizes()
	v := startVictim(t, victimSettings(t, 8), relay.Config{MeterMessages: sz.relayMeter})
	p := newProber(t, v.node)
	m := startMeter(t)
	cr := newCrowd(t)
	a := newAttacker(t, cr)
	origin := []byte(a.h.ID())
	var (
		sent         int
		banAfter     time.Duration
		peakWindow   int
		noBanDue     bool
		stopSampling func()
	)
	st := p.during(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sz.relayBanWithin)
		defer cancel()
		if err := handshake(ctx, a.h, v.node, nil); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, func() error {
			if !hasChannel(v.node, a.h.ID()) {
				return errors.New("no attacker channel")
			}
			return nil
		})
		s, err := a.h.NewStream(ctx, v.node.ID(), relayID)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Reset()
		_ = s.SetWriteDeadline(time.Now().Add(sz.relayBanWithin))
		stopSampling = sampleWindow(v.relay, &peakWindow)
		w := bufio.NewWriterSize(s, 64<<10)
		began := time.Now()
		_, _ = w.Write(frameOf(&relaypb.Frame{Body: &relaypb.Frame_Hello{Hello: &relaypb.Hello{}}}))
		base := uint64(time.Now().UnixNano())
		data := make([]byte, 8)
		for ctx.Err() == nil {
			binary.BigEndian.PutUint64(data, uint64(sent))
			f := &relaypb.Frame{Body: &relaypb.Frame_Message{Message: &relaypb.Message{
				Topic: "chaos", Origin: origin, Time: base + uint64(sent), Data: data}}}
			if _, err := w.Write(frameOf(f)); err != nil {
				break // the victim reset the stream or closed the connection
			}
			sent++
		}
		banAfter = time.Since(began)
		stopSampling()
		// The ban is due once the victim has read more than meter_messages
		// frames within one meter window; on a loaded machine it may not
		// keep up with that rate, and then no ban is due.
		// The frames it read are the messages it accepted, the Hello, and
		// the frame that tripped the meter.
		if peakWindow+2 <= sz.relayMeter {
			t.Logf("the victim read at most %d relay frames per %s: below meter_messages %d, no ban due",
				peakWindow, relay.DefaultMeterWindow, sz.relayMeter)
			noBanDue = true
			return
		}
		eventually(t, 10*time.Second, func() error {
			if !nodeinternal.Host(v.node).Gater.Banned(a.h.ID(), nil) {
				return fmt.Errorf("the relay flooder is not banned after %d messages", sent)
			}
			if hasChannel(v.node, a.h.ID()) {
				return errors.New("the relay flooder still has a channel")
			}
			return nil
		})
	})
	p.check(t, st)
	if noBanDue {
		if nodeinternal.Host(v.node).Gater.Banned(a.h.ID(), nil) {
			t.Error("the relay flooder was banned below the metering limit")
		}
	} else if sent < sz.relayMeter {
		t.Errorf("banned after %d messages, fewer than meter_messages %d", sent, sz.relayMeter)
	}
	stats := v.relay.Stats()
	cr.close()
	p.close()
	back := m.settle(t, sz.recover)
	m.report(t, fmt.Sprintf("relay flood (meter_messages %d)", sz.relayMeter), back, st,
		fmt.Sprintf("; %d messages written in %s, at most %d read by the victim per meter window, banned %v; relay stats %+v",
			sent, banAfter.Round(time.Millisecond), peakWindow, !noBanDue, stats))
}

// sampleWindow samples r's received-message count every 100 ms and keeps
// in *peak the most received within one meter window, until the returned
// stop is called.
func sampleWindow(r *relay.Relay, peak *int) (stop func()) {
	stopc := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		done := stopc
		defer close(ended)
		type sample struct {
			at time.Time
			n  uint64
		}
		var win []sample
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			now := time.Now()
			win = append(win, sample{now, r.Stats().Received})
			for len(win) > 1 && now.Sub(win[0].at) > relay.DefaultMeterWindow {
				win = win[1:]
			}
			*peak = max(*peak, int(win[len(win)-1].n-win[0].n))
			select {
			case <-done:
				done = nil
				continue // one last sample
			case <-tick.C:
			}
			if done == nil {
				return
			}
		}
	}()
	return func() { close(stopc); <-ended }
}
