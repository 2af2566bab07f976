package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// `dnode devnet -n 8 --once` forms the network, relays the demo message to
// every node and exits 0.
func TestDevnetOnce(t *testing.T) {
	checkLeaks(t)
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
