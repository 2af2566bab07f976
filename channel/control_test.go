package channel

import (
	"testing"
	"testing/synctest"
	"time"
)

// Control.Start starts the channel once: Ready closes and the start time
// is set by the first call; a second call changes nothing (no panic).
func TestControlStartOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch, ctl := New(Config{Conn: fuzzConn{}, Network: "t", Session: Inbound})
		defer func() {
			ch.Stop(nil)
			<-ch.Done()
		}()
		select {
		case <-ch.Ready():
			t.Fatal("ready before Start")
		default:
		}
		ctl.Start()
		first := ch.StartTime()
		time.Sleep(time.Second)
		ctl.Start()
		select {
		case <-ch.Ready():
		default:
			t.Fatal("not ready after Start")
		}
		if first.IsZero() || !ch.StartTime().Equal(first) {
			t.Fatalf("start time %v, then %v", first, ch.StartTime())
		}
	})
}
