package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/dnode-p2p/dnode"
)

func TestVersionCommand(t *testing.T) {
	r := runCLI(t, "version")
	if r.code != 0 {
		t.Fatalf("version: %+v", r)
	}
	for _, want := range []string{"dnode        " + dnode.Version, "go           " + runtime.Version(), "go-libp2p", "commit", runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("version output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, "version", "--json")
	var v versionInfo
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil {
		t.Fatalf("version --json: %+v", r)
	}
	// The test binary records go-libp2p among its dependencies.
	if v.Version != dnode.Version || v.GoVersion != runtime.Version() || !strings.HasPrefix(v.Libp2pVersion, "v0.") {
		t.Errorf("version --json = %+v", v)
	}
	if r := runCLI(t, "version", "extra"); r.code != exitUsage {
		t.Errorf("version with an argument: exit %d", r.code)
	}
}
