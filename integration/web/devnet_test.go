package web

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dnode-p2p/dnode/internal/devnet"
	"github.com/dnode-p2p/dnode/rpc"
)

// devnetNodes is the size of the devnet the test draws.
const devnetNodes = 6

// The devnet page shows every node of a running devnet (the seed and
// devnetNodes nodes) as a node of its graph, follows the network as the
// nodes fill their outbound slots, and reports no console error.
func TestDevnetPage(t *testing.T) {
	p := newPage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := devnet.Start(ctx, devnet.Config{Nodes: devnetNodes})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Close(); err != nil {
			t.Errorf("devnet close: %v", err)
		}
	}()
	token, err := rpc.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	w, err := d.ServeWeb(ctx, devnet.WebConfig{Listen: "127.0.0.1:0", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := w.Close(); err != nil {
			t.Errorf("devnet web close: %v", err)
		}
	}()

	p.do(t, "open the devnet page", chromedp.Navigate("http://"+w.Addr()+"/#token="+token))
	want := strconv.Itoa(devnetNodes + 1) // the seed is drawn too
	p.waitText(t, "node-count", want)
	p.poll(t, "the graph never drew every node", fmt.Sprintf(`document.querySelectorAll("svg g.node").length === %d`, devnetNodes+1))

	// Live: the page follows the nodes filling their slots, without a
	// reload, until every node is full.
	if _, err := d.WaitSlots(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	p.waitText(t, "full-count", strconv.Itoa(devnetNodes))
	if links, err := strconv.Atoi(p.text(t, "link-count")); err != nil || links < devnetNodes {
		t.Errorf("#link-count shows %q, want at least %d channels", p.text(t, "link-count"), devnetNodes)
	}
	if _, err := d.Demo(ctx, "hello from the browser test"); err != nil {
		t.Fatal(err)
	}

	p.screenshot(t, "web-devnet.png")
	p.checkConsole(t)
}
