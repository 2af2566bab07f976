package main

import (
	"encoding/json"
	"os"
	"runtime"
	"time"
)

// jsonStat is a per-round aggregate: median and spread.
type jsonStat struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Rounds []float64 `json:"rounds"`
}

type jsonRow struct {
	Bench    string    `json:"bench"`
	Unit     string    `json:"unit"`
	Dnode    *jsonStat `json:"dnode,omitempty"`
	Baseline string    `json:"baseline,omitempty"`
	Base     *jsonStat `json:"base,omitempty"`
	Ratio    *jsonStat `json:"ratio,omitempty"`
	Target   string    `json:"target,omitempty"`
	Met      *bool     `json:"met,omitempty"`
}

type jsonReport struct {
	Machine   string    `json:"machine"`
	Cores     int       `json:"cores"`
	GoVersion string    `json:"go_version"`
	Commit    string    `json:"commit"`
	Time      time.Time `json:"time"`
	Seconds   float64   `json:"seconds"`
	Rows      []jsonRow `json:"rows"`
	Notes     []string  `json:"notes"`
	Curves    []curve   `json:"curves"`
}

func stat(a agg) *jsonStat {
	if len(a) == 0 {
		return nil
	}
	return &jsonStat{Median: a.med(), Min: a.min(), Max: a.max(), Rounds: a}
}

// writeJSON writes res as the machine-readable twin of the markdown report.
func writeJSON(path string, res result, took time.Duration) error {
	cpu, cores := machine()
	rep := jsonReport{Machine: cpu, Cores: cores, GoVersion: runtime.Version(), Commit: gitCommit(),
		Time: time.Now().UTC(), Seconds: took.Seconds(), Notes: res.notes, Curves: res.curves}
	for _, r := range res.rows {
		jr := jsonRow{Bench: r.bench, Unit: r.unit, Dnode: stat(r.dnode), Baseline: r.baseName, Base: stat(r.base), Target: r.target}
		if rat := r.ratios(); len(rat) > 0 {
			jr.Ratio = stat(rat)
		}
		if met, ok := r.met(); ok {
			jr.Met = &met
		}
		rep.Rows = append(rep.Rows, jr)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
