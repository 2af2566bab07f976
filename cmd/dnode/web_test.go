package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// dnode web prints the link to the node's page with the token in the
// fragment, after checking that the node takes it; a refused token fails
// as for the other client commands.
func TestWebCommand(t *testing.T) {
	checkLeaks(t)
	isolate(t)
	n := startTestNode(t)
	addr := serveRPC(t, n, nil, "tok")
	t.Setenv(tokenEnv, "tok")
	r := runCLI(t, "web", "--rpc", addr)
	if want := "http://" + addr + "/#token=tok\n"; r.code != 0 || r.stdout != want {
		t.Errorf("web: %+v, want stdout %q", r, want)
	}
	r = runCLI(t, "web", "--rpc", addr, "--json")
	var out struct{ URL string }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.URL != "http://"+addr+"/#token=tok" {
		t.Errorf("web --json: %+v (%v)", r, err)
	}
	t.Setenv(tokenEnv, "wrong")
	if r := runCLI(t, "web", "--rpc", addr); r.code != exitFailure || r.stdout != "" || !strings.Contains(r.stderr, "refused") {
		t.Errorf("web with a wrong token: %+v", r)
	}
}

func TestWebURL(t *testing.T) {
	for _, c := range []struct{ endpoint, token, want string }{
		{"http://127.0.0.1:26660", "ab12", "http://127.0.0.1:26660/#token=ab12"},
		{"http://0.0.0.0:26660", "ab12", "http://127.0.0.1:26660/#token=ab12"},
		{"http://[::]:26660", "", "http://127.0.0.1:26660/"},
		{"https://node.example:443", "x y", "https://node.example:443/#token=x%20y"},
	} {
		if got, err := webURL(c.endpoint, c.token); err != nil || got != c.want {
			t.Errorf("webURL(%q, %q) = %q, %v; want %q", c.endpoint, c.token, got, err, c.want)
		}
	}
}
