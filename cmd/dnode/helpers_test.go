package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	golog "github.com/ipfs/go-log/v2"

	"github.com/dnode-p2p/dnode/internal/testnet"
)

// A valid peer ID for addresses that are parsed but never dialed.
const somePeer = "12D3KooWJ67fPBXLv6WnTyz8LR7ixrchLzVaaxctPed4PffgKEWJ"

type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command line in process.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// isolate points HOME and the XDG directories at fresh temporary
// directories, so that default paths never touch the real home, and clears
// the go-log level variables so that log_level applies. It returns the
// default config path and the default datastore.
func isolate(t *testing.T) (configPath, datastore string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(dir, "run"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	t.Setenv("GOLOG_LOG_LEVEL", "")
	t.Setenv("IPFS_LOGGING", "")
	return filepath.Join(dir, "config", "dnode", "dnode.toml"), filepath.Join(dir, "data", "dnode")
}

// writeTemp writes content to a new file in a temporary directory and
// returns its path.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// nonEmptyLines splits s into lines, dropping empty ones.
func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer = testnet.Buffer

// captureLogs copies every go-log record, as plain text, into the returned
// buffer until the test ends.
func captureLogs(t *testing.T) *syncBuffer {
	t.Helper()
	pr := golog.NewPipeReader(golog.PipeFormat(golog.PlaintextOutput))
	buf := &syncBuffer{}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(buf, pr)
		close(done)
	}()
	t.Cleanup(func() {
		_ = pr.Close()
		<-done
	})
	return buf
}

// poll calls cond every 20 ms until it returns true or ctx or timeout
// expires; it reports whether cond became true.
func poll(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-tick.C:
		}
	}
}
