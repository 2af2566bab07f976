package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/internal/testnet"
)

// startRun runs the command line in process until the node has started,
// and returns a function that cancels the context, waits (at most 5 s) for
// run to return, and gives its exit status.
func startRun(t *testing.T, logs *syncBuffer, args ...string) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &stdout, &stderr) }()

	var code int
	exited := false
	started := poll(t.Context(), 15*time.Second, func() bool {
		select {
		case code = <-done:
			exited = true
			return true
		default:
		}
		return strings.Contains(logs.String(), "P2P network started")
	})
	switch {
	case exited:
		t.Fatalf("run exited with %d before it was stopped; stderr %q; logs:\n%s", code, stderr.String(), logs)
	case !started:
		cancel()
		<-done
		t.Fatalf("node did not start; stderr %q; logs:\n%s", stderr.String(), logs)
	}
	return func() int {
		t.Helper()
		cancel()
		select {
		case code := <-done:
			if stdout.String() != "" {
				t.Errorf("run printed %q on stdout", stdout.String())
			}
			return code
		case <-time.After(5 * time.Second):
			t.Fatalf("run did not return within 5 s of cancellation; logs:\n%s", logs)
			return -1
		}
	}
}

func checkStopLogs(t *testing.T, logs string) {
	t.Helper()
	for _, want := range []string{"Starting P2P network", termLine, "Stopping P2P network"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Index(logs, termLine) > strings.Index(logs, "Stopping P2P network") {
		t.Error("the termination line was logged after the node began stopping")
	}
	if !strings.Contains(logs, "INFO\tdnode/cmd\t") {
		t.Errorf("no info record of logger dnode/cmd:\n%s", logs)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	isolate(t)
	logs := captureLogs(t)
	store := t.TempDir()
	cfg := writeTemp(t, "dnode.toml", fmt.Sprintf(`network = "clitest"
datastore = %q
rpc_listen = ""
[net]
inbound = ["/ip4/127.0.0.1/tcp/0"]
`, store))
	stop := startRun(t, logs, "run", "--config", cfg)
	if code := stop(); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	checkStopLogs(t, logs.String())
	if !strings.Contains(logs.String(), "Loaded configuration") || !strings.Contains(logs.String(), cfg) {
		t.Errorf("logs do not name the config file:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(store, dhost.IdentityFile)); err != nil {
		t.Errorf("no identity in the datastore: %v", err)
	}
}

// dnode without a subcommand runs the node; without --config and without a
// default config file it uses the built-in defaults, overridden by flags.
func TestRootRunsWithBuiltinDefaults(t *testing.T) {
	_, datastore := isolate(t)
	logs := captureLogs(t)
	stop := startRun(t, logs, "--accept", "/ip4/127.0.0.1/tcp/0", "--rpc-listen", "",
		"--network", "clitest", "--log-level", "info", "--outbound-slots", "2", "--localnet")
	if code := stop(); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	checkStopLogs(t, logs.String())
	if !strings.Contains(logs.String(), "built-in defaults") {
		t.Errorf("logs do not say the built-in defaults are used:\n%s", logs)
	}
	if !strings.Contains(logs.String(), `"network": "clitest"`) {
		t.Errorf("--network not applied:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(datastore, dhost.IdentityFile)); err != nil {
		t.Errorf("no identity in the default datastore: %v", err)
	}
}

// log_level applies to the node's loggers, which are created after it is
// set: at warn, the info lines are gone.
func TestRunLogLevel(t *testing.T) {
	isolate(t)
	// Leave go-log at info for the other tests.
	t.Cleanup(func() { _ = setLogLevel("info") })
	logs := captureLogs(t)
	cfg := writeTemp(t, "dnode.toml", fmt.Sprintf(`datastore = %q
rpc_listen = ""
log_level = "debug"
[net]
inbound = ["/ip4/127.0.0.1/tcp/0"]
`, t.TempDir()))
	// The warn run goes first: go-libp2p stops its AutoNAT v2 dialer host
	// in a goroutine of its own after the main host has closed, so a run
	// at debug level can still log a record or two after it returned.
	// Those stragglers would land in a later run's capture; after a warn
	// run they are below the level and never written.
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // stop at once
	var stdout, stderr syncBuffer
	code := run(ctx, []string{"run", "--config", cfg, "--log-level", "warn"}, &stdout, &stderr)
	if code != 0 {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if strings.Contains(logs.String(), "INFO\t") || strings.Contains(logs.String(), "DEBUG\t") {
		t.Errorf("--log-level warn still logged info or debug records:\n%s", logs)
	}

	logs2 := captureLogs(t)
	stop := startRun(t, logs2, "run", "--config", cfg)
	if code := stop(); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	if !strings.Contains(logs2.String(), "DEBUG\t") {
		t.Errorf("log_level = debug logged no debug record:\n%s", logs2)
	}
}

func TestRunBindFailureExit1(t *testing.T) {
	isolate(t)
	logs := captureLogs(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	cfg := writeTemp(t, "dnode.toml", fmt.Sprintf(`datastore = %q
rpc_listen = ""
[net]
inbound = ["/ip4/127.0.0.1/tcp/%d"]
`, t.TempDir(), port))
	r := runCLI(t, "run", "--config", cfg)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", r.code, r.stderr)
	}
	lines := nonEmptyLines(r.stderr)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "dnode: start: ") || !strings.Contains(lines[0], fmt.Sprint(port)) {
		t.Errorf("stderr %q, want one line \"dnode: start: ...\" naming port %d", r.stderr, port)
	}
	if strings.Contains(logs.String(), termLine) {
		t.Errorf("termination line logged on a failed start:\n%s", logs)
	}
}

// An older dnode killed between creating identity.key and writing it left
// an empty file; the node starts from it with a new identity.
func TestRunStartsAfterKillLeftEmptyKey(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	t.Setenv(tokenEnv, "")
	logs := captureLogs(t)
	datastore := t.TempDir()
	if err := os.WriteFile(filepath.Join(datastore, dhost.IdentityFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	stop := startRun(t, logs, "run", "--accept", "/ip4/127.0.0.1/tcp/0", "--rpc-listen", "",
		"--network", "clitest", "--localnet", "--datastore", datastore)
	if code := stop(); code != 0 {
		t.Fatalf("run exit %d", code)
	}
	if st, err := os.Stat(filepath.Join(datastore, dhost.IdentityFile)); err != nil || st.Size() == 0 {
		t.Fatalf("key after the start: %v %v", st, err)
	}
}

// rpcEndpoint returns the address of the RPC that a run started in this
// test (with rpc_listen on port 0) was given: the listening port of this
// process on which "dnode info --rpc" with args answers.
func rpcEndpoint(t *testing.T, args ...string) string {
	t.Helper()
	var endpoint string
	testnet.Eventually(t, 10*time.Second, func() error {
		port, err := testnet.FindPort(os.Getpid(), func(port int) error {
			ep := fmt.Sprintf("127.0.0.1:%d", port)
			if r := runCLI(t, append([]string{"info", "--rpc", ep}, args...)...); r.code != 0 {
				return fmt.Errorf("info --rpc %s: exit %d: %s", ep, r.code, r.stderr)
			}
			return nil
		})
		endpoint = fmt.Sprintf("127.0.0.1:%d", port)
		return err
	})
	return endpoint
}
