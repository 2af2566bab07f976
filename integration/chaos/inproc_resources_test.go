package chaos_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// usage is what a process holds: goroutines (in process only: -1 for
// another process), open file descriptors and resident memory.
type usage struct {
	goroutines int
	fds        int
	rssKiB     int64
	heapKiB    int64 // heap in use (in process only)
}

func (u usage) String() string {
	g := "-"
	if u.goroutines >= 0 {
		g = strconv.Itoa(u.goroutines)
	}
	h := ""
	if u.heapKiB > 0 {
		h = fmt.Sprintf(", heap %.1f MiB", float64(u.heapKiB)/1024)
	}
	return fmt.Sprintf("goroutines %s, fds %d, RSS %.1f MiB%s", g, u.fds, float64(u.rssKiB)/1024, h)
}

// Tolerances of "near baseline": an attack may leave a few goroutines
// and descriptors in flux (libp2p's background work) and some heap the
// runtime has not returned yet.
const (
	slackGoroutines = 30
	slackFDs        = 20
	slackRSSKiB     = 48 << 10
	slackHeapKiB    = 32 << 10
	// slackRaceRSSKiB bounds RSS under -race, whose shadow memory is
	// never returned to the system.
	slackRaceRSSKiB = 1 << 20
)

// procUsage reads fds and VmRSS of process pid ("self" for this one).
func procUsage(pid string) (usage, error) {
	u := usage{goroutines: -1}
	ents, err := os.ReadDir(filepath.Join("/proc", pid, "fd"))
	if err != nil {
		return u, err
	}
	u.fds = len(ents)
	status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return u, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				u.rssKiB, _ = strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return u, nil
}

// self measures this process.
func self(t testing.TB) usage {
	t.Helper()
	u, err := procUsage("self")
	if err != nil {
		t.Fatal(err)
	}
	u.goroutines = runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u.heapKiB = int64(ms.HeapInuse >> 10)
	return u
}

// meter records a baseline, the peak during an attack and the figure
// after it.
type meter struct {
	base, after usage
	stop        chan struct{}
	done        chan struct{}

	mu   sync.Mutex
	peak usage
}

// startMeter frees what the runtime can, records the baseline and samples
// the peak every 50 ms until finish.
func startMeter(t testing.TB) *meter {
	t.Helper()
	debug.FreeOSMemory()
	m := &meter{base: self(t), stop: make(chan struct{}), done: make(chan struct{})}
	m.peak = m.base
	go func() {
		defer close(m.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
			u, err := procUsage("self")
			if err != nil {
				continue
			}
			u.goroutines = runtime.NumGoroutine()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			u.heapKiB = int64(ms.HeapInuse >> 10)
			m.mu.Lock()
			m.peak.heapKiB = max(m.peak.heapKiB, u.heapKiB)
			m.peak.goroutines = max(m.peak.goroutines, u.goroutines)
			m.peak.fds = max(m.peak.fds, u.fds)
			m.peak.rssKiB = max(m.peak.rssKiB, u.rssKiB)
			m.mu.Unlock()
		}
	}()
	t.Cleanup(m.halt)
	return m
}

func (m *meter) halt() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

// settle stops sampling and polls, freeing memory each time, until the
// process is back near the baseline or within fails the test.
func (m *meter) settle(t testing.TB, within time.Duration) time.Duration {
	t.Helper()
	m.halt()
	began := time.Now()
	deadline := began.Add(within)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		debug.FreeOSMemory()
		u := self(t)
		m.after = u
		err := m.near(u)
		if err == nil {
			return time.Since(began)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not back near baseline within %s: %v\nbaseline %v\npeak %v\nnow %v", within, err, m.base, m.peak, u)
		}
		<-tick.C
	}
}

func (m *meter) near(u usage) error {
	switch {
	case u.goroutines > m.base.goroutines+slackGoroutines:
		return fmt.Errorf("%d goroutines, baseline %d", u.goroutines, m.base.goroutines)
	case u.fds > m.base.fds+slackFDs:
		return fmt.Errorf("%d fds, baseline %d", u.fds, m.base.fds)
	case u.heapKiB > m.base.heapKiB+slackHeapKiB:
		return fmt.Errorf("heap %d KiB, baseline %d KiB", u.heapKiB, m.base.heapKiB)
	case !raceBuild && u.rssKiB > m.base.rssKiB+slackRSSKiB:
		return fmt.Errorf("RSS %d KiB, baseline %d KiB", u.rssKiB, m.base.rssKiB)
	case raceBuild && u.rssKiB > m.base.rssKiB+slackRaceRSSKiB:
		return fmt.Errorf("RSS %d KiB, baseline %d KiB (race build)", u.rssKiB, m.base.rssKiB)
	}
	return nil
}

// report logs the figures of an attack in the form docs/security.md
// quotes.
func (m *meter) report(t testing.TB, attack string, back time.Duration, pings *rttStats, extra string) {
	t.Helper()
	m.mu.Lock()
	peak := m.peak
	m.mu.Unlock()
	t.Logf("FIGURES %s: ping %v; baseline: %v; peak: %v; after: %v (back in %s)%s",
		attack, pings, m.base, peak, m.after, back.Round(100*time.Millisecond), extra)
}
