package web

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var screenshots = flag.String("web.screenshots", "", "write web-node.png and web-devnet.png to this directory (docs/img)")

// waitTimeout bounds every wait for the page to show something.
const waitTimeout = 30 * time.Second

// chromiumPath returns the Chromium binary to drive: $DNODE_CHROMIUM, else
// chromium (Debian's package) or chromium-browser on PATH. It skips the
// test, saying why, when there is none: the test installs nothing.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DNODE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium: the web view's browser test needs Debian's chromium package " +
		"(apt-get install chromium) or DNODE_CHROMIUM=/path/to/chromium; .ci/run installs it when it can")
	return ""
}

// page is one browser tab and what its console reported.
type page struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string    // console errors, uncaught exceptions, browser log entries of level error
	marks  chan string // the texts of console.debug calls starting with markPrefix
}

// markPrefix starts the console.debug messages checkConsole writes to know
// that every message before them was read.
const markPrefix = "dnode-test-mark "

// newPage starts a headless Chromium with a fresh profile (no network
// besides what the page asks for: no QUIC, no background fetches, no
// component updates, no sync) and returns its first tab, listening to
// the console. Everything is stopped at cleanup.
func newPage(t *testing.T) *page {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 960),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	p := &page{ctx: ctx, marks: make(chan string, 16)}
	// Console starts the browser and subscribes before the first
	// navigation: console API calls, uncaught exceptions and the browser
	// log (network errors, CSP violations).
	messages := chromedp.Console(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range messages {
			if err != nil {
				if ctx.Err() == nil {
					p.record("console: " + err.Error())
				}
				return
			}
			switch m.Type {
			case chromedp.ConsoleDebug:
				if strings.HasPrefix(m.Text, markPrefix) {
					p.marks <- m.Text
				}
			case chromedp.ConsoleError, chromedp.ConsoleException:
				p.record(fmt.Sprintf("%s at %s:%d: %s", m.Type, m.URL, m.Line+1, m.Text))
			case chromedp.ConsoleWarning:
				t.Logf("page warning at %s:%d: %s", m.URL, m.Line+1, m.Text)
			}
		}
	}()
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		wg.Wait()
	})
	return p
}

func (p *page) record(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errors = append(p.errors, msg)
}

// checkConsole fails the test for every error the page reported so far:
// it writes a mark to the console and waits until the reader has seen it,
// so that every message before the mark was read.
func (p *page) checkConsole(t *testing.T) {
	t.Helper()
	mark := fmt.Sprintf("%s%d", markPrefix, time.Now().UnixNano())
	eval[bool](t, p, fmt.Sprintf(`(console.debug(%q), true)`, mark))
	timeout := time.NewTimer(waitTimeout)
	defer timeout.Stop()
wait:
	for {
		select {
		case m := <-p.marks:
			if m == mark {
				break wait
			}
		case <-timeout.C:
			t.Fatalf("the console mark %q never came back", mark)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.errors {
		t.Errorf("page reported an error: %s", e)
	}
}

// do runs actions with waitTimeout.
func (p *page) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression with waitTimeout.
func eval[T any](t *testing.T, p *page, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// poll waits until the JavaScript expression is truthy, failing with
// what after waitTimeout.
func (p *page) poll(t *testing.T, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// text returns the text content of the element with id.
func (p *page) text(t *testing.T, id string) string {
	t.Helper()
	return strings.TrimSpace(eval[string](t, p, fmt.Sprintf(`(document.getElementById(%q) || {}).textContent || ""`, id)))
}

// waitText waits until the element with id holds exactly want, failing
// with what it holds after waitTimeout.
func (p *page) waitText(t *testing.T, id, want string) {
	t.Helper()
	js := fmt.Sprintf(`((document.getElementById(%q) || {}).textContent || "").trim() === %q`, id, want)
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Fatalf("#%s never showed %q (it shows %q): %v", id, want, p.text(t, id), err)
	}
}

// screenshot writes the whole page as PNG to <-web.screenshots>/name, when
// the flag is set.
func (p *page) screenshot(t *testing.T, name string) {
	t.Helper()
	if *screenshots == "" {
		return
	}
	png := capture(t, p)
	path := filepath.Join(*screenshots, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(png))
}

// capture captures the whole page as PNG.
func capture(t *testing.T, p *page) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}
