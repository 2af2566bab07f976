package chaos

import (
	"fmt"
	"testing"
	"time"
)

// report holds the figures of one attack, logged as one "chaos:" line.
type report struct {
	base, peak, after usage
	recoveredIn       time.Duration
	p99               time.Duration
	pings             int
	bans              int
	notes             string
}

func (r report) String() string {
	return fmt.Sprintf("ping p99 %s over %d pings; before %v; peak %v; after %v (back in %s); bans %d; %s",
		r.p99.Round(100*time.Microsecond), r.pings, r.base, r.peak, r.after, r.recoveredIn.Round(100*time.Millisecond), r.bans, r.notes)
}

// baseline samples d five times 100 ms apart and keeps the largest of
// each figure.
func baseline(t testing.TB, d *daemon) usage {
	t.Helper()
	var b usage
	for i := 0; i < 5; i++ {
		u, err := d.sample()
		if err != nil {
			t.Fatal(err)
		}
		b.rssKB, b.fds, b.goroutines = max(b.rssKB, u.rssKB), max(b.fds, u.fds), max(b.goroutines, u.goroutines)
		b.heapKB = max(b.heapKB, u.heapKB)
		poll(nil, 100*time.Millisecond)
	}
	return b
}

// bans returns the daemon's dnode_bans_total.
func (d *daemon) bans(t testing.TB) int {
	t.Helper()
	m, err := d.metrics("dnode_bans_total")
	if err != nil {
		t.Fatal(err)
	}
	return int(m["dnode_bans_total"])
}

// runAttack starts a daemon with cfg and an honest peer pinging it, takes
// the baseline, runs attack (which returns a note for the report and
// makes its own assertions), and checks that the daemon is alive, that
// every ping was answered and that its resources come back near the
// baseline within the scale's recovery window. It logs the report, runs
// checks on it and returns it.
func runAttack(t *testing.T, name string, cfg daemonConfig, attack func(t *testing.T, d *daemon) string, checks ...func(*testing.T, report)) report {
	t.Helper()
	sz := sizes()
	d := startDaemon(t, name, cfg)
	p := startPinger(t, d)
	var r report
	r.base = baseline(t, d)
	bans0 := d.bans(t)
	m := startMonitor(d)
	r.notes = attack(t, d)
	peak, err := m.finish()
	if err != nil {
		t.Fatalf("sampling %s: %v", name, err)
	}
	r.peak = peak
	r.p99, r.pings = p.result(t) // the round trips under attack
	if err := d.alive(); err != nil {
		t.Fatal(err)
	}
	r.after, r.recoveredIn = recovered(t, d, r.base, sz.recover)
	r.bans = d.bans(t) - bans0
	if err := d.alive(); err != nil {
		t.Fatal(err)
	}
	t.Logf("chaos: %s: %v", name, r)
	for _, c := range checks {
		c(t, r)
	}
	return r
}
