package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/internal/testnet"
)

// netID is the network id of every daemon of the suite.
const netID = "chaos"

// daemonConfig is what a test sets in a daemon's config file; the rest is
// fixed by config().
type daemonConfig struct {
	p2pPort, rpcPort int
	inbound          int    // net.inbound_connections
	outbound         int    // net.outbound_connections
	meterMessages    int    // relay.meter_messages (0: default)
	handshake        string // channel_handshake_timeout ("": 2 s)
	peers, seeds     string // TOML arrays of multiaddrs, or ""
	// retainKB is not configuration: the heap and RSS the attack leaves
	// by design (state kept for minutes, bounded), allowed above the
	// recovery bounds of usage.near.
	retainKB int
}

// config returns the TOML config of a daemon with datastore dir: loopback
// TCP only, localnet, the RPC on, short handshake timeout and heartbeat.
func (c daemonConfig) config(dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "network = %q\ndatastore = %q\nrpc_listen = \"127.0.0.1:%d\"\nlog_level = \"warn\"\n", netID, dir, c.rpcPort)
	fmt.Fprintf(&b, "[net]\ninbound = [\"/ip4/127.0.0.1/tcp/%d\"]\nlocalnet = true\n", c.p2pPort)
	fmt.Fprintf(&b, "inbound_connections = %d\noutbound_connections = %d\n", c.inbound, c.outbound)
	fmt.Fprintf(&b, "greylist_refinery_interval = \"1s\"\noutbound_peer_discovery_attempt_time = \"1s\"\n")
	if c.peers != "" {
		fmt.Fprintf(&b, "peers = %s\n", c.peers)
	}
	if c.seeds != "" {
		fmt.Fprintf(&b, "seeds = %s\n", c.seeds)
	}
	hs := c.handshake
	if hs == "" {
		hs = "2s"
	}
	fmt.Fprintf(&b, "[net.profiles.tcp]\nchannel_handshake_timeout = %q\nchannel_heartbeat_interval = \"1s\"\noutbound_connect_timeout = \"5s\"\n", hs)
	if c.meterMessages > 0 {
		fmt.Fprintf(&b, "[relay]\nmeter_messages = %d\n", c.meterMessages)
	}
	return b.String()
}

// daemon is one dnode process. Its methods are safe for concurrent use.
type daemon struct {
	t       testing.TB
	name    string
	bin     string
	dir     string // datastore
	cfgPath string
	cfg     daemonConfig

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the current process has exited
	stderr *syncBuffer
	id     peer.ID
	token  string
	hc     *http.Client
}

// startDaemon writes a config for cfg and starts the daemon; it is killed
// at cleanup. Ports left 0 are given to the daemon's listeners by the
// system and read back once it runs (see start).
func startDaemon(t *testing.T, name string, cfg daemonConfig) *daemon {
	t.Helper()
	if cfg.inbound == 0 {
		cfg.inbound = 64
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, name: name, bin: dnodeBinary(t), dir: dir, cfg: cfg,
		cfgPath: filepath.Join(dir, "dnode.toml"), hc: &http.Client{Timeout: 10 * time.Second}}
	if err := os.WriteFile(d.cfgPath, []byte(cfg.config(dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.kill()
		d.hc.CloseIdleConnections()
	})
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	return d
}

// start runs the process and waits until its RPC answers with its peer ID.
func (d *daemon) start() error {
	cmd := exec.Command(d.bin, "run", "--config", d.cfgPath)
	cmd.Env = childEnv(d.dir)
	stderr := &syncBuffer{}
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	_ = os.Remove(filepath.Join(d.dir, "rpc.cookie")) // a killed process leaves it behind
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", d.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	d.mu.Lock()
	d.cmd, d.done, d.stderr = cmd, done, stderr
	d.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := d.readIdentity()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited at start: %s", d.name, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer on its RPC: %w", d.name, err)
		}
		poll(done, 20*time.Millisecond)
	}
}

// poll waits for d or until after has passed: the pause of a polling loop.
func poll(done <-chan struct{}, after time.Duration) {
	tm := time.NewTimer(after)
	defer tm.Stop()
	select {
	case <-done:
	case <-tm.C:
	}
}

// readIdentity reads the cookie and the peer ID over the RPC. A port
// configured as 0 is read back: the RPC's is the listening port of the
// process that answers get_info, the P2P one is in get_info's addrs.
// start calls it before the daemon is used, on its own goroutine.
func (d *daemon) readIdentity() error {
	tok, err := os.ReadFile(filepath.Join(d.dir, "rpc.cookie"))
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.token = strings.TrimSpace(string(tok))
	d.mu.Unlock()
	var info info
	if d.cfg.rpcPort != 0 {
		info, err = d.info()
	} else {
		_, err = testnet.FindPort(d.pid(), func(port int) error {
			d.cfg.rpcPort = port
			if info, err = d.info(); err != nil {
				d.cfg.rpcPort = 0
			}
			return err
		})
	}
	if err != nil {
		return err
	}
	id, err := peer.Decode(info.PeerID)
	if err != nil {
		return err
	}
	if d.cfg.p2pPort == 0 {
		if d.cfg.p2pPort, err = tcpPortOf(info.Addrs); err != nil {
			return err
		}
	}
	d.mu.Lock()
	d.id = id
	d.mu.Unlock()
	return nil
}

// tcpPortOf returns the port of the first /ip4/…/tcp/ address of addrs.
func tcpPortOf(addrs []string) (int, error) {
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		if _, err := a.ValueForProtocol(ma.P_IP4); err != nil {
			continue
		}
		if p, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			return strconv.Atoi(p)
		}
	}
	return 0, fmt.Errorf("no TCP address among %v", addrs)
}

// info is the part of p2p.get_info the tests read.
type info struct {
	PeerID        string   `json:"peer_id"`
	Addrs         []string `json:"addrs"`
	ChannelsTotal int      `json:"channels_total"`
	Channels      []struct {
		PeerID  string `json:"peer_id"`
		Session string `json:"session"`
	} `json:"channels"`
}

// info calls p2p.get_info.
func (d *daemon) info() (info, error) {
	var out info
	err := d.call("p2p.get_info", &out)
	return out, err
}

// blacklisted reports whether p is on the daemon's black list (where a
// ban puts the banned peer's address, see addrbook.Book.Ban).
func (d *daemon) blacklisted(p peer.ID) (bool, error) {
	var hosts struct {
		Black []struct {
			Addr string `json:"addr"`
		} `json:"black"`
	}
	if err := d.call("p2p.get_hosts", &hosts); err != nil {
		return false, err
	}
	for _, h := range hosts.Black {
		if strings.HasSuffix(h.Addr, "/p2p/"+p.String()) {
			return true, nil
		}
	}
	return false, nil
}

// call makes one JSON-RPC call without params and decodes its result.
func (d *daemon) call(method string, result any) error {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q}`, method)
	req, err := http.NewRequest(http.MethodPost, d.rpcURL("/"), strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.cookie())
	resp, err := d.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var reply struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&reply); err != nil {
		return fmt.Errorf("%s: HTTP %d: %w", method, resp.StatusCode, err)
	}
	if reply.Error != nil {
		return fmt.Errorf("%s: %s", method, reply.Error.Message)
	}
	return json.Unmarshal(reply.Result, result)
}

// metrics returns the samples of the daemon's /metrics whose name is in
// names, summed over their labels.
func (d *daemon) metrics(names ...string) (map[string]float64, error) {
	req, err := http.NewRequest(http.MethodGet, d.rpcURL("/metrics"), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+d.cookie())
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: HTTP %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 64<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// labels may hold spaces: the value is the last field
			name = line[:i]
			rest = line[strings.LastIndexByte(line, ' ')+1:]
		}
		for _, n := range names {
			if n == name {
				v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
				if err == nil {
					out[name] += v
				}
			}
		}
	}
	return out, sc.Err()
}

func (d *daemon) rpcURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", d.cfg.rpcPort, path)
}

func (d *daemon) rpcAddr() string { return fmt.Sprintf("127.0.0.1:%d", d.cfg.rpcPort) }

func (d *daemon) cookie() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.token
}

// ID returns the daemon's peer ID.
func (d *daemon) ID() peer.ID {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.id
}

// AddrInfo returns the daemon's P2P address.
func (d *daemon) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: d.ID(), Addrs: []ma.Multiaddr{d.Multiaddr()}}
}

// Multiaddr is the daemon's TCP listen address without /p2p/.
func (d *daemon) Multiaddr() ma.Multiaddr {
	return ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", d.cfg.p2pPort))
}

// P2PAddr is the daemon's listen address with /p2p/.
func (d *daemon) P2PAddr() string {
	return fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", d.cfg.p2pPort, d.ID())
}

// TCPAddr is the daemon's P2P listen address for net.Dial.
func (d *daemon) TCPAddr() string { return fmt.Sprintf("127.0.0.1:%d", d.cfg.p2pPort) }

// pid returns the running process's id, 0 when it is not running.
func (d *daemon) pid() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil || d.cmd.Process == nil {
		return 0
	}
	select {
	case <-d.done:
		return 0
	default:
	}
	return d.cmd.Process.Pid
}

// alive fails with the process's output if it exited, or if it printed a
// panic or a data race.
func (d *daemon) alive() error {
	d.mu.Lock()
	done, out := d.done, d.stderr
	d.mu.Unlock()
	select {
	case <-done:
		return fmt.Errorf("%s exited: %s", d.name, tail(out.String()))
	default:
	}
	s := out.String()
	for _, bad := range []string{"panic:", "WARNING: DATA RACE", "fatal error:"} {
		if strings.Contains(s, bad) {
			return fmt.Errorf("%s printed %q: %s", d.name, bad, tail(s))
		}
	}
	return nil
}

// kill SIGKILLs the process and waits for it.
func (d *daemon) kill() {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

// childEnv is a daemon's environment: HOME and the XDG directories under
// dir, no go-log settings, no DNODE_RPC_TOKEN.
func childEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "GOLOG_"), strings.HasPrefix(k, "IPFS_"), strings.HasPrefix(k, "DNODE_"),
			k == "HOME", strings.HasPrefix(k, "XDG_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+filepath.Join(dir, "home"), "XDG_RUNTIME_DIR="+filepath.Join(dir, "run"))
}

// syncBuffer is a bytes.Buffer safe for concurrent use, keeping at most
// its last 1 MiB.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		rest := s.b.Bytes()[s.b.Len()-(512<<10):]
		s.b = *bytes.NewBuffer(append([]byte(nil), rest...))
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// dialRaw opens a plain TCP connection to addr.
func dialRaw(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

var errTimeout = errors.New("timed out")
