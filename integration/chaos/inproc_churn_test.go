package chaos_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/rpc"
)

// buildDaemon builds the dnode command into a temporary directory, with
// -race when the test runs with it (the build then reuses the test's
// compiled packages).
func buildDaemon(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "dnode")
	args := []string{"build", "-o", bin}
	if raceBuild {
		args = append(args, "-race")
	}
	out, err := exec.Command(goTool, append(args, "github.com/dnode-p2p/dnode/cmd/dnode")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is one dnode daemon of the churn test, restarted on the same
// datastore, ports and identity.
type proc struct {
	t       *testing.T
	name    string
	bin     string
	dir     string
	id      peer.ID
	p2pPort int // read back from the running process (0: not yet)
	rpcPort int // read back from the running process (0: not yet)
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has been waited for
	starts  int
}

func newProc(t *testing.T, bin, name string, peers []string) *proc {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	key, _, err := dhost.LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, bin: bin, dir: dir, id: id}
	quoted := make([]string, len(peers))
	for i, a := range peers {
		quoted[i] = strconv.Quote(a)
	}
	cfg := fmt.Sprintf(`network = "test"
datastore = %q
rpc_listen = "127.0.0.1:0"
log_level = "warn"

[net]
inbound = ["/ip4/127.0.0.1/tcp/0"]
localnet = true
outbound_connections = 4
inbound_connections = 64
peers = [%s]
outbound_peer_discovery_attempt_time = 1
greylist_refinery_interval = 2
`, dir, strings.Join(quoted, ", "))
	if err := os.WriteFile(filepath.Join(dir, "dnode.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

// addr returns the running daemon's P2P address, waiting for its ports.
func (p *proc) addr() string {
	p.t.Helper()
	eventually(p.t, 60*time.Second, p.ports)
	return fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", p.p2pPort, p.id)
}

// ports reads back the ports the running daemon's listeners were given:
// the RPC's is the listening port that answers get_info, the P2P one is
// in get_info's addrs. It is called from the test's goroutine only.
func (p *proc) ports() error {
	if p.rpcPort != 0 {
		return nil
	}
	if !p.running() {
		return fmt.Errorf("%s is not running", p.name)
	}
	var in churnInfo
	_, err := testnet.FindPort(p.cmd.Process.Pid, func(port int) error {
		p.rpcPort = port
		var err error
		if in, err = p.info(); err != nil {
			p.rpcPort = 0
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, s := range in.Addrs {
		if a, err := ma.NewMultiaddr(s); err == nil {
			if v, err := a.ValueForProtocol(ma.P_TCP); err == nil {
				p.p2pPort, err = strconv.Atoi(v)
				return err
			}
		}
	}
	p.rpcPort = 0
	return fmt.Errorf("%s: no TCP address among %v", p.name, in.Addrs)
}

func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// start runs the daemon; its output goes to a log file in its datastore
// (no copying goroutine in the test).
func (p *proc) start() {
	p.t.Helper()
	log, err := os.OpenFile(filepath.Join(p.dir, "out.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(p.bin, "run", "--config", filepath.Join(p.dir, "dnode.toml"))
	cmd.Env = append(os.Environ(), "HOME="+p.dir, "XDG_CONFIG_HOME="+p.dir, "XDG_DATA_HOME="+p.dir, "GOLOG_LOG_LEVEL=")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd, p.exited, p.starts = cmd, make(chan struct{}), p.starts+1
	p.rpcPort, p.p2pPort = 0, 0 // new listeners, new ports
	exited := p.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
}

// kill SIGKILLs the daemon and waits for it.
func (p *proc) kill() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop ends the daemon with SIGTERM, then SIGKILL after 10 s.
func (p *proc) stop() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "out.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

var churnHTTP = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// churnInfo is the part of p2p.get_info the churn test reads.
type churnInfo struct {
	ChannelsTotal int      `json:"channels_total"`
	Addrs         []string `json:"addrs"`
}

// channels asks the daemon's RPC for its channel count.
func (p *proc) channels() (int, error) {
	if err := p.ports(); err != nil {
		return 0, err
	}
	in, err := p.info()
	return in.ChannelsTotal, err
}

// info calls p2p.get_info on the daemon's RPC port.
func (p *proc) info() (churnInfo, error) {
	token, err := rpc.ReadCookie(rpc.CookiePath(p.dir))
	if err != nil {
		return churnInfo{}, err
	}
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/", p.rpcPort),
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"p2p.get_info","params":[]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := churnHTTP.Do(req)
	if err != nil {
		return churnInfo{}, err
	}
	defer resp.Body.Close()
	var out struct {
		Result churnInfo                 `json:"result"`
		Error  *struct{ Message string } `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&out); err != nil {
		return churnInfo{}, err
	}
	if out.Error != nil {
		return churnInfo{}, errors.New(out.Error.Message)
	}
	return out.Result, nil
}

// usage reads the daemon's goroutines and heap from /metrics, fds and RSS
// from /proc.
func (p *proc) usage() (usage, error) {
	u, err := procUsage(strconv.Itoa(p.cmd.Process.Pid))
	if err != nil {
		return u, err
	}
	if err := p.ports(); err != nil {
		return u, err
	}
	token, err := rpc.ReadCookie(rpc.CookiePath(p.dir))
	if err != nil {
		return u, err
	}
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", p.rpcPort), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := churnHTTP.Do(req)
	if err != nil {
		return u, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "go_goroutines":
			u.goroutines = int(v)
		case "go_memstats_heap_inuse_bytes":
			u.heapKiB = int64(v) >> 10
		}
	}
	if u.goroutines < 0 {
		return u, errors.New("no go_goroutines in /metrics")
	}
	return u, sc.Err()
}

// Real dnode daemons on loopback (localnet), all with the survivor as
// their manual peer, are SIGKILLed and restarted at random around the
// survivor, which runs throughout. Afterwards, with every daemon back,
// the survivor has its channels again, and its goroutines, heap, fds and
// RSS are back near their level before the churn.
func TestDaemonChurn(t *testing.T) {
	procs, churnFor := 5, 12*time.Second
	if fullRun() {
		procs, churnFor = 20, 3*time.Minute
	}
	built := time.Now()
	bin := buildDaemon(t)
	t.Logf("go build: %s", time.Since(built).Round(100*time.Millisecond))
	surv := newProc(t, bin, "survivor", nil)
	surv.start()
	survAddr := surv.addr() // once its listeners have their ports
	var others []*proc
	for i := 1; i < procs; i++ {
		others = append(others, newProc(t, bin, fmt.Sprintf("n%d", i), []string{survAddr}))
	}
	for _, p := range others {
		p.start()
	}
	want := procs - 1
	allBack := func() {
		eventually(t, 60*time.Second, func() error {
			if !surv.running() {
				t.Fatalf("the survivor exited:\n%s", surv.logTail())
			}
			n, err := surv.channels()
			if err != nil {
				return err
			}
			if n < want {
				return fmt.Errorf("survivor has %d channels, want %d", n, want)
			}
			return nil
		})
	}
	allBack()
	var base usage
	eventually(t, 10*time.Second, func() (err error) { base, err = surv.usage(); return err })
	peak := base

	// Each other daemon lives 0.5 to 4 s, then is SIGKILLed and stays down
	// 0.1 to 1.5 s before it is restarted.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }
	next := make([]time.Time, len(others))
	for i := range next {
		next[i] = time.Now().Add(between(500*time.Millisecond, 4*time.Second))
	}
	kills := 0
	end := time.Now().Add(churnFor)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(end) {
		<-tick.C
		for i, p := range others {
			if time.Now().Before(next[i]) {
				continue
			}
			if p.running() {
				p.kill()
				kills++
				next[i] = time.Now().Add(between(100*time.Millisecond, 1500*time.Millisecond))
			} else {
				p.start()
				next[i] = time.Now().Add(between(500*time.Millisecond, 4*time.Second))
			}
		}
		if !surv.running() {
			t.Fatalf("the survivor exited during the churn:\n%s", surv.logTail())
		}
		if u, err := surv.usage(); err == nil {
			peak.goroutines = max(peak.goroutines, u.goroutines)
			peak.fds = max(peak.fds, u.fds)
			peak.rssKiB = max(peak.rssKiB, u.rssKiB)
			peak.heapKiB = max(peak.heapKiB, u.heapKiB)
		}
	}
	for _, p := range others {
		if !p.running() {
			p.start()
		}
	}
	allBack()
	began := time.Now()
	var after usage
	eventually(t, 30*time.Second, func() error {
		u, err := surv.usage()
		if err != nil {
			return err
		}
		after = u
		switch {
		case u.goroutines > base.goroutines+slackGoroutines:
			return fmt.Errorf("%d goroutines, baseline %d", u.goroutines, base.goroutines)
		case u.fds > base.fds+slackFDs:
			return fmt.Errorf("%d fds, baseline %d", u.fds, base.fds)
		case u.heapKiB > base.heapKiB+slackHeapKiB:
			return fmt.Errorf("heap %d KiB, baseline %d KiB", u.heapKiB, base.heapKiB)
		case !raceBuild && u.rssKiB > base.rssKiB+slackRSSKiB:
			return fmt.Errorf("RSS %d KiB, baseline %d KiB", u.rssKiB, base.rssKiB)
		}
		return nil
	})
	restarts := 0
	for _, p := range others {
		restarts += p.starts - 1
	}
	t.Logf("FIGURES churn (%d processes, %s): %d SIGKILLs, %d restarts; survivor baseline: %v; peak: %v; after: %v (back in %s)",
		procs, churnFor, kills, restarts, base, peak, after, time.Since(began).Round(100*time.Millisecond))
	if kills == 0 {
		t.Error("the churn killed no process")
	}
	surv.stop()
	select {
	case <-surv.exited:
		if code := surv.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("survivor exit status %d after SIGTERM:\n%s", code, surv.logTail())
		}
	default:
	}
}
