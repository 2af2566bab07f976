package eclipse

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
)

var (
	full   = flag.Bool("eclipse.full", false, "1000 trials per row, every defence switched off in turn, and the hour-long attack")
	trials = flag.Int("eclipse.trials", 0, "trials per row (default 100; 1000 with -eclipse.full, 200 for its hour-long attack)")
	seed   = flag.Uint64("eclipse.seed", 1, "seed of the first trial; trial i uses seed+i")
)

// Summary aggregates the trials of one row.
type Summary struct {
	Defences Defences
	Trials   int
	Kept     int     // an honest outbound before and after the restart
	Kept2    int     // at least two honest outbound after the restart
	Through  int     // an honest outbound at the end of every attack step, before and after the restart
	Shared   int     // trials in which two outbound peers ever shared a netgroup
	Before   float64 // mean honest outbound before the restart
	After    float64 // mean honest outbound after it
}

func pct(n, of int) float64 { return 100 * float64(n) / float64(of) }

func (s Summary) String() string {
	return fmt.Sprintf("%-58s kept %5.1f %% (%d/%d), ≥2 honest %5.1f %%, at every step %5.1f %%, honest outbound %.2f before / %.2f after the restart, shared netgroup in %d",
		s.Defences, pct(s.Kept, s.Trials), s.Kept, s.Trials, pct(s.Kept2, s.Trials),
		pct(s.Through, s.Trials), s.Before, s.After, s.Shared)
}

// runTrials plays n seeded trials of sc with def (trial i on seed+i, so
// rows with other defences replay the same networks).
func runTrials(t *testing.T, sc Scenario, def Defences, n int) Summary {
	t.Helper()
	sum := Summary{Defences: def, Trials: n}
	dir := t.TempDir()
	for i := range n {
		d := filepath.Join(dir, fmt.Sprint(i))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		var out Outcome
		var err error
		synctest.Test(t, func(*testing.T) { out, err = newWorld(sc, def, *seed+uint64(i), d).run() })
		if err != nil {
			t.Fatalf("trial %d: %v", i, err)
		}
		if out.Kept() {
			sum.Kept++
			if out.MinDuringAttack > 0 && out.MinAfterRestart > 0 {
				sum.Through++
			}
		}
		if out.AfterRestart >= 2 {
			sum.Kept2++
		}
		if out.SharedNetgroup > 0 {
			sum.Shared++
		}
		sum.Before += float64(out.BeforeRestart) / float64(n)
		sum.After += float64(out.AfterRestart) / float64(n)
	}
	return sum
}

func trialCount(long bool) int {
	switch {
	case *trials > 0:
		return *trials
	case *full && long:
		return 200
	case *full:
		return 1000
	}
	return 100
}

var (
	allDefences = Defences{Buckets: true, GroupPicks: true, Anchors: true, Diversity: true}
	// oldDefences are dnode's defences before issue 11: netgroup
	// diversity and the per-source quota only.
	oldDefences = Defences{Diversity: true}
)

// TestEclipseTrial is the eclipse trial (reference test I14 with the
// issue's numbers, see DefaultScenario): with dnode's defences the victim
// keeps an honest outbound channel through the attack and the restart in
// at least 99 % of 100 seeded trials, and never has two outbound peers in
// one netgroup. The first 20 of the same trials without the new defences
// (greylist buckets, netgroup-first picks, anchors) are the comparison:
// the victim must come out of the restart with more honest outbound peers
// with them than without. -eclipse.full switches every defence off in turn and
// adds the hour-long attack (LongScenario); docs/security.md has the
// figures.
func TestEclipseTrial(t *testing.T) {
	sc := DefaultScenario()
	n := trialCount(false)
	got := runTrials(t, sc, allDefences, n)
	t.Log("restart after 10 min:", got)
	if got.Kept*100 < 99*n {
		t.Errorf("with every defence the victim kept an honest outbound in %d of %d trials, want ≥ 99 %%", got.Kept, n)
	}
	if got.Shared > 0 {
		t.Errorf("two outbound peers shared a netgroup in %d trials", got.Shared)
	}
	// 20 trials show the difference (about 5 honest outbound against 3)
	// in the test command; the full run has as many as the first row.
	nOld := min(n, 20)
	if *full || *trials > 0 {
		nOld = n
	}
	old := runTrials(t, sc, oldDefences, nOld)
	t.Log("restart after 10 min:", old)
	if got.After <= old.After {
		t.Errorf("honest outbound after the restart: %.2f with the new defences, %.2f without: they do not help", got.After, old.After)
	}
	if !*full {
		return
	}
	rows := []Defences{
		{GroupPicks: true, Anchors: true, Diversity: true},
		{Buckets: true, Anchors: true, Diversity: true},
		{Buckets: true, GroupPicks: true, Diversity: true},
		{Buckets: true, GroupPicks: true, Anchors: true},
		{},
	}
	for _, def := range rows {
		t.Log("restart after 10 min:", runTrials(t, sc, def, n))
	}
	long, nl := LongScenario(), trialCount(true)
	for _, def := range append([]Defences{allDefences, oldDefences}, rows...) {
		t.Log("restart after 1 h:   ", runTrials(t, long, def, nl))
	}
}
