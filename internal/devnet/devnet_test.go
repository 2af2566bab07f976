package devnet

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// A devnet of eight nodes forms (every node fills its seven slots) and one
// dchat message reaches every other node.
func TestDevnetForms(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := Start(ctx, Config{Nodes: 8, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.WaitSlots(ctx, 200*time.Millisecond); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if _, err := d.Demo(ctx, "hello devnet"); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "node8 got it") {
		t.Errorf("progress output lacks the last delivery:\n%s", out.String())
	}
}
