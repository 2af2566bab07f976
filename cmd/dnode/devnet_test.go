package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `dnode devnet -n 8 --once` forms the network, relays the demo message to
// every node and exits 0.
func TestDevnetOnce(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	code := run(ctx, []string{"devnet", "-n", "8", "--once"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"every node filled its outbound slots", "the message reached all 7 other nodes", "rpc 127.0.0.1:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDevnetBadNodes(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"devnet", "-n", "1"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, errb.String())
	}
}

// The README's commands, verbatim with the addresses devnet prints, work
// against a running devnet: the clients find each node's RPC cookie from
// --rpc alone. The cookies are gone once devnet stops.
func TestDevnetReadmeCommands(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	t.Setenv(tokenEnv, "")
	runtime := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtime) // as a desktop session sets it
	out, stop := startCLI(t, strings.NewReader(""), "devnet", "-n", "3")
	waitOutput(t, out, "press Ctrl-C to stop")
	// "  dnode info --rpc 127.0.0.1:PORT" and the like.
	cmds := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "dnode" && f[2] == "--rpc" {
			cmds[f[1]] = f[3]
		}
	}
	for _, sub := range []string{"info", "peers", "events", "chat"} {
		if cmds[sub] == "" {
			t.Fatalf("devnet printed no %q command:\n%s", sub, out.String())
		}
	}
	for _, sub := range []string{"info", "peers", "hosts"} {
		addr := cmds[sub]
		if addr == "" {
			addr = cmds["info"] // the README shows hosts too
		}
		if r := runCLI(t, sub, "--rpc", addr); r.code != 0 {
			t.Errorf("dnode %s --rpc %s: %+v", sub, addr, r)
		}
	}
	if r := runIOResult(t, strings.NewReader("hello from the README\n"), "chat", "--rpc", cmds["chat"]); r.code != 0 {
		t.Errorf("dnode chat --rpc %s: %+v", cmds["chat"], r)
	}
	// The devnet's web page: its link carries the token that /graph takes.
	checkDevnetWeb(t, out.String(), 4)
	if r := runCLI(t, "web", "--rpc", cmds["info"]); r.code != 0 || !strings.HasPrefix(r.stdout, "http://"+cmds["info"]+"/#token=") {
		t.Errorf("dnode web --rpc %s: %+v", cmds["info"], r)
	}
	_, stopEvents := startCLI(t, strings.NewReader(""), "events", "--rpc", cmds["events"])
	if r := stopEvents(); r.code != 0 {
		t.Errorf("dnode events --rpc %s: %+v", cmds["events"], r)
	}
	cookies, _ := filepath.Glob(filepath.Join(runtime, "dnode", "devnet", "*.cookie"))
	if len(cookies) != 3 {
		t.Errorf("devnet cookies: %v, want one per node", cookies)
	}
	if r := stop(); r.code != 0 {
		t.Errorf("devnet exit %d: %s", r.code, r.stderr)
	}
	if cookies, _ := filepath.Glob(filepath.Join(runtime, "dnode", "devnet", "*.cookie")); len(cookies) != 0 {
		t.Errorf("devnet cookies left after it stopped: %v", cookies)
	}
}

// runIOResult runs a command line in process with stdin until it returns.
func runIOResult(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runIO(t.Context(), args, stdin, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// checkDevnetWeb finds the devnet page's link in out and checks that its
// /graph, with the link's token, shows nodes nodes (the seed included).
func checkDevnetWeb(t *testing.T, out string, nodes int) {
	t.Helper()
	_, link, ok := strings.Cut(out, "web view of the devnet: ")
	link, _, _ = strings.Cut(link, "\n")
	base, token, ok2 := strings.Cut(link, "/#token=")
	if !ok || !ok2 || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("no devnet web link in the output:\n%s", out)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/graph", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var g struct{ Nodes []struct{ Web string } }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&g); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /graph: %d %v", resp.StatusCode, err)
	}
	if len(g.Nodes) != nodes || !strings.Contains(g.Nodes[1].Web, "/#token=") {
		t.Errorf("graph nodes %+v, want %d with their pages' links", g.Nodes, nodes)
	}
}
