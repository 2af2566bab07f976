package chaos

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// usage is one sample of a daemon's resources.
type usage struct {
	rssKB      int // VmRSS of /proc/<pid>/status
	fds        int // entries of /proc/<pid>/fd
	goroutines int // go_goroutines of its /metrics
	heapKB     int // go_memstats_heap_inuse_bytes of its /metrics, in kB
}

func (u usage) String() string {
	return fmt.Sprintf("rss %.1f MiB, heap %.1f MiB, %d fds, %d goroutines", float64(u.rssKB)/1024, float64(u.heapKB)/1024, u.fds, u.goroutines)
}

// sample reads the daemon's resources now.
func (d *daemon) sample() (usage, error) {
	pid := d.pid()
	if pid == 0 {
		return usage{}, fmt.Errorf("%s is not running", d.name)
	}
	var u usage
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			u.rssKB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return u, err
	}
	u.fds = len(fds)
	m, err := d.metrics("go_goroutines", "go_memstats_heap_inuse_bytes")
	if err != nil {
		return u, err
	}
	u.goroutines = int(m["go_goroutines"])
	u.heapKB = int(m["go_memstats_heap_inuse_bytes"] / 1024)
	return u, nil
}

// near reports whether u is back near base: goroutines and fds within
// 25 % (plus a small constant for the honest peer's streams and the RPC's
// own connections), the heap in use within twice the baseline plus
// 16 MiB, and RSS within twice the baseline plus 64 MiB (the Go runtime
// returns freed pages to the OS only gradually, so RSS lags the heap: the
// bound catches growth that stays, not the pages not yet returned).
// retainKB is added to the heap and RSS bounds, for state an attack
// leaves by design.
func (u usage) near(base usage, retainKB int) error {
	switch {
	case u.goroutines > base.goroutines*5/4+20:
		return fmt.Errorf("goroutines %d, baseline %d", u.goroutines, base.goroutines)
	case u.fds > base.fds*5/4+10:
		return fmt.Errorf("fds %d, baseline %d", u.fds, base.fds)
	case u.heapKB > base.heapKB*2+16<<10+retainKB:
		return fmt.Errorf("heap %d kB, baseline %d kB", u.heapKB, base.heapKB)
	case u.rssKB > base.rssKB*2+64<<10+retainKB:
		return fmt.Errorf("rss %d kB, baseline %d kB", u.rssKB, base.rssKB)
	}
	return nil
}

// monitor samples a daemon every 100 ms for the peak of each figure.
type monitor struct {
	d    *daemon
	stop chan struct{}
	wg   sync.WaitGroup

	mu   sync.Mutex
	peak usage
	err  error
}

func startMonitor(d *daemon) *monitor {
	m := &monitor{d: d, stop: make(chan struct{})}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			u, err := d.sample()
			m.mu.Lock()
			if err != nil && m.err == nil {
				m.err = err
			}
			m.peak.rssKB = max(m.peak.rssKB, u.rssKB)
			m.peak.fds = max(m.peak.fds, u.fds)
			m.peak.goroutines = max(m.peak.goroutines, u.goroutines)
			m.peak.heapKB = max(m.peak.heapKB, u.heapKB)
			m.mu.Unlock()
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

// finish stops sampling and returns the peaks.
func (m *monitor) finish() (usage, error) {
	close(m.stop)
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak, m.err
}

// recovered polls d until its usage is near base, at most within; it
// returns that sample and how long recovery took. d.cfg.retainKB is
// allowed on top of near's bounds.
func recovered(t testing.TB, d *daemon, base usage, within time.Duration) (usage, time.Duration) {
	t.Helper()
	start := time.Now()
	var lastErr error
	for {
		u, err := d.sample()
		if err == nil {
			if err = u.near(base, d.cfg.retainKB); err == nil {
				return u, time.Since(start)
			}
		}
		lastErr = err
		if time.Since(start) > within {
			t.Fatalf("%s not back near its baseline (%v) within %s: %v", d.name, base, within, lastErr)
		}
		poll(nil, 200*time.Millisecond)
	}
}

// percentile returns the p-th percentile (0-100) of ds, 0 when empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}
