package chaos

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/internal/leaktest"
)

var full = flag.Bool("chaos.full", false, "run the full chaos suite (the figures of docs/security.md) instead of the short one")

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dnode-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := leaktest.Run(m, leaktest.Options()...)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// scale holds the sizes and windows of the daemon attacks (the files
// without the inproc_ prefix); short() would be the normal test command's,
// but those tests run only with -chaos.full (fullOnly), so fullScale() is
// the one measured. The in-process tests have their own scale.
type scale struct {
	malformedConns  int           // connections of the malformed-frame attack
	malformedFrames int           // frames each of them sends
	floodConns      int           // connections of each flood (secured and raw)
	slowConns       int           // slowloris connections (handshake and RPC each)
	streams         int           // streams opened on one channel's connection
	relayMessages   int           // relay flood: messages sent at most
	meterMessages   int           // relay meter_messages of the daemon
	recover         time.Duration // RSS, fds and goroutines must be back within this
}

func short() scale {
	return scale{
		malformedConns: 10, malformedFrames: 10,
		floodConns: 256, slowConns: 32, streams: 500,
		relayMessages: 20000, meterMessages: 2000,
		recover: 20 * time.Second,
	}
}

func fullScale() scale {
	return scale{
		malformedConns: 100, malformedFrames: 100,
		floodConns: 2048, slowConns: 256, streams: 5000,
		relayMessages: 200000, meterMessages: 50000, // the default meter_messages
		recover: 30 * time.Second,
	}
}

// sizes returns the scale of this run.
func sizes() scale {
	if *full {
		return fullScale()
	}
	return short()
}

// binDir holds the dnode binary the tests share; TestMain removes it.
var binDir string

var build struct {
	once sync.Once
	bin  string
	err  error
}

// dnodeBinary builds the dnode command once per test binary into binDir,
// with -race when the test itself runs with it (the build then reuses the
// test's compiled packages).
func dnodeBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			build.err = fmt.Errorf("go command not found: %w", err)
			return
		}
		bin := filepath.Join(binDir, "dnode")
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/dnode-p2p/dnode/cmd/dnode")
		if out, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		build.bin = bin
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// fullOnly skips a daemon test outside -chaos.full: the short run has its
// in-process counterpart (inproc_*_test.go), which keeps the normal test
// command fast.
func fullOnly(t *testing.T) {
	t.Helper()
	if !*full {
		t.Skip("runs with -chaos.full; the short run has the in-process version")
	}
}
