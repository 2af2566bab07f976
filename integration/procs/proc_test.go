package procs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dnode-p2p/dnode/rpc"
)

// Every process listens on its own loopback IP on these ports.
const (
	p2pPort = 47661
	rpcPort = 47660
	netID   = "procs"
)

// ipFor returns the loopback IP of process i: 127.<1+i/200>.<1+i%200>.1,
// so processes 0–199 share 127.1.0.0/16, the next 200 127.2.0.0/16, and
// every process has a /24 of its own.
func ipFor(i int) string { return fmt.Sprintf("127.%d.%d.1", 1+i/200, 1+i%200) }

// proc is one dnode process: a seed or a node. Its methods are safe for
// concurrent use once started.
type proc struct {
	name string
	ip   string
	dir  string // datastore, HOME and config
	seed bool
	id   string // peer ID, from `dnode id`

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the process exited
	out  *lockedBuffer
	rpc  *rpc.Client // set once the node's cookie is read
}

// config is the process's TOML config: TCP on its IP, localnet (the
// addresses are loopback), DarkFi's timers, warnings only in the log.
func (p *proc) config(seeds []string, nodes int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "network = %q\ndatastore = %q\nlog_level = \"warn\"\n", netID, p.dir)
	if p.seed {
		b.WriteString("rpc_listen = \"\"\n")
	} else {
		fmt.Fprintf(&b, "rpc_listen = \"%s:%d\"\n", p.ip, rpcPort)
	}
	fmt.Fprintf(&b, "[net]\ninbound = [\"/ip4/%s/tcp/%d\"]\nlocalnet = true\n", p.ip, p2pPort)
	// As in the simulation: 8 outbound slots need 8 inbound slots
	// somewhere, so the default 8 inbound would leave no slack.
	b.WriteString("outbound_connections = 8\ninbound_connections = 32\n")
	if len(seeds) > 0 {
		fmt.Fprintf(&b, "seeds = [\"%s\"]\n", strings.Join(seeds, "\", \""))
	}
	if p.seed {
		fmt.Fprintf(&b, "[seed]\ninbound_connections = %d\n", nodes+8)
	}
	return b.String()
}

// P2PAddr is the process's listen address with /p2p/.
func (p *proc) P2PAddr() string {
	return fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", p.ip, p2pPort, p.id)
}

// readID runs `dnode id`, which creates the identity key, and records the
// peer ID it prints first.
func (p *proc) readID(bin string) error {
	cmd := exec.Command(bin, "id", "--config", filepath.Join(p.dir, "dnode.toml"))
	cmd.Env = childEnv(p.dir)
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s: dnode id: %w", p.name, err)
	}
	id, _, _ := strings.Cut(string(out), "\n")
	if id == "" {
		return fmt.Errorf("%s: dnode id printed nothing", p.name)
	}
	p.id = strings.TrimSpace(id)
	return nil
}

// start writes the config and starts the process (dnode seed or dnode
// run); it does not wait for it to listen.
func (p *proc) start(bin string, seeds []string, nodes int) error {
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	cfg := filepath.Join(p.dir, "dnode.toml")
	if err := os.WriteFile(cfg, []byte(p.config(seeds, nodes)), 0o600); err != nil {
		return err
	}
	if p.id == "" {
		if err := p.readID(bin); err != nil {
			return err
		}
	}
	sub := "run"
	if p.seed {
		sub = "seed"
	}
	cmd := exec.Command(bin, sub, "--config", cfg)
	cmd.Env = childEnv(p.dir)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// The kernel kills the child if the test binary dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done, p.out = cmd, done, out
	p.mu.Unlock()
	return nil
}

// ready reports whether the process answers: a seed accepts TCP on its
// listen address, a node answers ping on its RPC (its cookie read first).
// A process that exited is an error.
func (p *proc) ready() (bool, error) {
	if err := p.alive(); err != nil {
		return false, err
	}
	if p.seed {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", p.ip, p2pPort), time.Second)
		if err != nil {
			return false, nil
		}
		c.Close()
		return true, nil
	}
	p.mu.Lock()
	c := p.rpc
	p.mu.Unlock()
	if c == nil {
		tok, err := os.ReadFile(filepath.Join(p.dir, "rpc.cookie"))
		if err != nil {
			return false, nil
		}
		c, err = rpc.NewClient(fmt.Sprintf("%s:%d", p.ip, rpcPort), strings.TrimSpace(string(tok)))
		if err != nil {
			return false, err
		}
		p.mu.Lock()
		p.rpc = c
		p.mu.Unlock()
	}
	var pong string
	if err := p.call("ping", &pong); err != nil {
		return false, nil
	}
	return pong == "pong", nil
}

// alive returns an error with the process's output if it exited or
// printed a panic.
func (p *proc) alive() error {
	p.mu.Lock()
	done, out := p.done, p.out
	p.mu.Unlock()
	select {
	case <-done:
		return fmt.Errorf("%s exited: %s", p.name, out.tail())
	default:
	}
	if s := out.tail(); strings.Contains(s, "panic:") || strings.Contains(s, "fatal error:") {
		return fmt.Errorf("%s: %s", p.name, s)
	}
	return nil
}

// call makes one JSON-RPC call to the node and decodes its result.
func (p *proc) call(method string, result any, params ...any) error {
	p.mu.Lock()
	c := p.rpc
	p.mu.Unlock()
	if c == nil {
		return errors.New(p.name + ": no RPC client yet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return c.Call(ctx, method, result, params...)
}

// stop sends SIGTERM, waits up to grace for the exit, then SIGKILLs.
func (p *proc) stop(grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	tm := time.NewTimer(grace)
	defer tm.Stop()
	select {
	case <-done:
	case <-tm.C:
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// usage is one process's resources from /proc.
type usage struct {
	rssKB int     // VmRSS
	cpu   float64 // user + system seconds
	fds   int     // open file descriptors
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// sample reads the process's RSS, CPU time and fds.
func (p *proc) sample() (usage, error) {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		return usage{}, errors.New(p.name + " not started")
	}
	dir := fmt.Sprintf("/proc/%d", cmd.Process.Pid)
	var u usage
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return u, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			u.rssKB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return u, err
	}
	// The fields after the command name (which may hold spaces) in
	// parentheses: utime and stime are fields 14 and 15 of the line.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 13 {
		return u, fmt.Errorf("%s: short stat line", dir)
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	u.cpu = (ut + st) / clockTicks
	fds, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return u, err
	}
	u.fds = len(fds)
	return u, nil
}

// childEnv is a process's environment: HOME and the XDG directories in
// dir, without the go-log level or an RPC token of the test's own.
func childEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "GOLOG_LOG_LEVEL", "DNODE_RPC_TOKEN":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
}

// lockedBuffer is a process's output, of which the last 64 KiB are kept.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const keepOutput = 64 << 10

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > keepOutput {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-keepOutput/2:]...)
	}
	return len(p), nil
}

// tail returns the last 4000 bytes written.
func (b *lockedBuffer) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return string(s)
}
