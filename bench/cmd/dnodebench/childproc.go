package main

// A dialing child process, so that a listener's figures (memory,
// goroutines, CPU) are its own: the parent re-executes its own binary with
// DNODEBENCH_CHILD set; the child builds n plain go-libp2p hosts (no
// listener), reports "ready", waits for "go" on stdin, dials the address
// at the given concurrency (connect + identify, and for mode "dnode" also
// dnode's version handshake, like integration/libp2p_test.go's
// handshakeAsPlainHost), reports "done <wall ns> <errors> <child CPU ns>",
// and holds every connection until its stdin closes.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/protocols/version"
)

const childEnv = "DNODEBENCH_CHILD" // "mode addr n concurrency"

func init() {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runDialChild(spec))
	}
}

func runDialChild(spec string) int {
	f := strings.Fields(spec)
	if len(f) != 4 {
		fmt.Fprintln(os.Stderr, "child: bad spec", spec)
		return 2
	}
	mode, target := f[0], ma.StringCast(f[1])
	n, _ := strconv.Atoi(f[2])
	conc, _ := strconv.Atoi(f[3])
	ai := addrInfoOf(target)
	hosts := make([]host.Host, n)
	var build sync.WaitGroup
	for w := range 2 {
		build.Go(func() {
			for i := w; i < n; i += 2 {
				hosts[i] = newDialHost()
			}
		})
	}
	build.Wait()
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if l, err := in.ReadString('\n'); err != nil || strings.TrimSpace(l) != "go" {
		return 1
	}
	ctx := context.Background()
	local := version.Local{AppName: "dnode", AppVersion: dnode.Version}
	var errs atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	cpu0, t0 := cpuTime(), time.Now()
	for _, h := range hosts {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := h.Connect(ctx, ai)
			if err == nil && mode == "dnode" {
				var s network.Stream
				s, err = h.NewStream(ctx, ai.ID, version.ID(benchNetwork))
				if err == nil {
					_, err = version.Exchange(ctx, s, s, local, nil, 10*time.Second, time.Now())
					s.Close()
				}
			}
			if err != nil {
				if errs.Add(1) <= 3 {
					fmt.Fprintln(os.Stderr, "child dial:", err)
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("done %d %d %d\n", time.Since(t0).Nanoseconds(), errs.Load(), (cpuTime() - cpu0).Nanoseconds())
	_, _ = io.Copy(io.Discard, in) // hold the connections until stdin closes
	for _, h := range hosts {
		h.Close()
	}
	return 0
}

// dialChild is the parent's handle on a dialing child.
type dialChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startDialChild starts a child that will dial target n times at
// concurrency conc in mode "dnode" or "bare"; it returns once the child's
// hosts are built.
func startDialChild(mode string, target ma.Multiaddr, n, conc int) *dialChild {
	exe, err := os.Executable()
	must(err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d %d", childEnv, mode, target, n, conc))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	must(err)
	stdout, err := cmd.StdoutPipe()
	must(err)
	must(cmd.Start())
	c := &dialChild{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	if l, err := c.out.ReadString('\n'); err != nil || strings.TrimSpace(l) != "ready" {
		c.close()
		panic(fmt.Sprintf("dial child not ready: %q %v", l, err))
	}
	return c
}

// dial tells the child to dial and returns its wall time, failed dials and
// CPU time.
func (c *dialChild) dial() (wall time.Duration, errs int, cpu time.Duration) {
	_, err := io.WriteString(c.stdin, "go\n")
	must(err)
	l, err := c.out.ReadString('\n')
	must(err)
	var w, e, u int64
	if _, err := fmt.Sscanf(l, "done %d %d %d", &w, &e, &u); err != nil {
		panic(fmt.Sprintf("dial child: %q: %v", l, err))
	}
	return time.Duration(w), int(e), time.Duration(u)
}

// close makes the child close its hosts and waits for it to exit.
func (c *dialChild) close() {
	c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
