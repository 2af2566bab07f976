package nat

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/rpc"
)

var natFlag = flag.Bool("nat", false, "run the NAT traversal test in network namespaces (root, ip netns, nftables)")

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }

// Addresses of the topology (see the package doc).
const (
	seedIP = "7.0.0.2"
	pubIP  = "7.0.0.3"
	port   = "4001"
)

// natKind is one run: the router's masquerade flags and the channel the
// two NATed nodes must end with.
type natKind struct {
	name       string
	masquerade string // nft masquerade statement flags
	wantDirect bool
}

func TestNATTraversal(t *testing.T) {
	if !*natFlag {
		t.Skip("skipped: the NAT namespace test runs only with -nat (go test ./integration/nat -nat), as root")
	}
	if reason := prerequisites(); reason != "" {
		t.Skip("skipped: " + reason)
	}
	bin := filepath.Join(t.TempDir(), "dnode")
	build := exec.Command("go", "build", "-o", bin, "github.com/dnode-p2p/dnode/cmd/dnode")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for i, k := range []natKind{
		{name: "cone", masquerade: "", wantDirect: true},
		{name: "symmetric", masquerade: "fully-random", wantDirect: false},
	} {
		t.Run(k.name, func(t *testing.T) { runNAT(t, bin, fmt.Sprintf("dn%d%c", os.Getpid()%100000, 'a'+i), k) })
	}
}

// prerequisites returns why the test cannot run here, or "". It installs
// nftables when nft is missing.
func prerequisites() string {
	if os.Geteuid() != 0 {
		return "not root (network namespaces need it)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no ip command (iproute2)"
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		return fmt.Sprintf("ip netns does not work: %v: %s", err, out)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		install := exec.Command("apt-get", "install", "-y", "-q", "nftables")
		install.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := install.CombinedOutput(); err != nil {
			return fmt.Sprintf("nft missing and apt-get install nftables failed: %v: %s", err, lastLines(string(out), 5))
		}
		if _, err := exec.LookPath("nft"); err != nil {
			return "nft still missing after installing nftables"
		}
	}
	return ""
}

// topo is one built topology: namespace names by role.
type topo struct {
	t      *testing.T
	prefix string
	nss    []string
}

func (tp *topo) ns(role string) string { return tp.prefix + "-" + role }

// run runs a command, failing the test on error.
func (tp *topo) run(args ...string) {
	tp.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		tp.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// inNS runs a command in namespace role.
func (tp *topo) inNS(role string, args ...string) {
	tp.t.Helper()
	tp.run(append([]string{"ip", "netns", "exec", tp.ns(role)}, args...)...)
}

func (tp *topo) addNS(role string) {
	tp.t.Helper()
	tp.run("ip", "netns", "add", tp.ns(role))
	tp.nss = append(tp.nss, tp.ns(role))
	tp.inNS(role, "ip", "link", "set", "lo", "up")
}

// link joins namespace a (interface ia, address addrA) and b (ib, addrB)
// with a veth pair; an empty address leaves that end unaddressed.
func (tp *topo) link(a, ia, addrA, b, ib, addrB string) {
	tp.t.Helper()
	tp.run("ip", "link", "add", ia, "netns", tp.ns(a), "type", "veth", "peer", "name", ib, "netns", tp.ns(b))
	for _, end := range []struct{ role, ifc, addr string }{{a, ia, addrA}, {b, ib, addrB}} {
		if end.addr != "" {
			tp.inNS(end.role, "ip", "addr", "add", end.addr, "dev", end.ifc)
		}
		tp.inNS(end.role, "ip", "link", "set", end.ifc, "up")
	}
}

// build makes the namespaces of the package doc, the routers with
// nftables masquerade (flags masq).
func build(t *testing.T, prefix, masq string) *topo {
	tp := &topo{t: t, prefix: prefix}
	t.Cleanup(tp.remove) // registered first: runs after the nodes are stopped
	for _, role := range []string{"inet", "seed", "pub", "r1", "r2", "n1", "n2"} {
		tp.addNS(role)
	}
	tp.inNS("inet", "ip", "link", "add", "br0", "type", "bridge")
	tp.inNS("inet", "ip", "link", "set", "br0", "up")
	for _, m := range []struct{ role, addr string }{
		{"seed", seedIP}, {"pub", pubIP}, {"r1", "7.0.0.11"}, {"r2", "7.0.0.12"},
	} {
		tp.link("inet", "p-"+m.role, "", m.role, "wan", m.addr+"/24")
		tp.inNS("inet", "ip", "link", "set", "p-"+m.role, "master", "br0")
	}
	for i, r := range []string{"r1", "r2"} {
		n := fmt.Sprintf("n%d", i+1)
		lan := fmt.Sprintf("10.%d.0", i+1)
		tp.link(r, "lan", lan+".1/24", n, "eth0", lan+".2/24")
		tp.inNS(n, "ip", "route", "add", "default", "via", lan+".1")
		tp.inNS(r, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
		// The input chain is a home router's firewall: unsolicited
		// packets to the router itself are dropped before conntrack
		// confirms an entry for them. Without it a hole-punch packet
		// that arrives before ours left would hold the tuple our
		// outgoing packet needs, and masquerade would pick another
		// port (cone NAT turned symmetric by timing).
		rules := fmt.Sprintf(`table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" masquerade %s
	}
}
table ip filter {
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state new drop
	}
}
`, masq)
		cmd := exec.Command("ip", "netns", "exec", tp.ns(r), "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft in %s: %v\n%s", r, err, out)
		}
	}
	return tp
}

// remove deletes every namespace (their interfaces go with them).
func (tp *topo) remove() {
	for _, ns := range tp.nss {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			tp.t.Logf("ip netns del %s: %v: %s", ns, err, out)
		}
	}
}

// node is one dnode process in a namespace.
type node struct {
	role, config, log, id string
}

// writeConfig writes role's configuration and returns the node, its
// identity created (dnode id).
//
// The public node says it is public (reachability = "public", as the
// operator of a public node does, or sets external_addrs): a node
// advertises only confirmed addresses, and in a network where nobody
// advertises anything yet AutoNAT has no peers to confirm them with.
// The NATed nodes learn they are private through AutoNAT.
//
// The public node listens on QUIC only. dnode dials TCP without
// SO_REUSEPORT (see host/proxy.go), so a TCP connection's observed address
// names an ephemeral port nobody can dial; QUIC dials leave from the
// listen socket, so the relay observes the NATed nodes' QUIC addresses,
// the addresses hole punching needs (libp2p waits for one before it
// punches).
func writeConfig(t *testing.T, bin, dir, role string, seeds []string, relay bool) *node {
	t.Helper()
	ds := filepath.Join(dir, role)
	if err := os.MkdirAll(ds, 0o700); err != nil {
		t.Fatal(err)
	}
	q := func(list []string) string {
		var parts []string
		for _, s := range list {
			parts = append(parts, fmt.Sprintf("%q", s))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	inbound := []string{"/ip4/0.0.0.0/tcp/" + port, "/ip4/0.0.0.0/udp/" + port + "/quic-v1"}
	if relay {
		inbound = inbound[1:]
	}
	cfg := fmt.Sprintf(`network = "nattest"
datastore = %q
rpc_listen = "127.0.0.1:26660"
[net]
inbound = %s
seeds = %s
nat_portmap = false
relay_service = %v
reachability = %q
greylist_refinery_interval = 2
outbound_peer_discovery_cooloff_time = 5
[seed]
whitelist_refinery_interval = 10
`, ds, q(inbound), q(seeds), relay, map[bool]string{true: "public", false: "auto"}[relay])
	n := &node{role: role, config: filepath.Join(dir, role+".toml"), log: filepath.Join(dir, role+".log")}
	if err := os.WriteFile(n.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "id", "--config", n.config).Output()
	if err != nil {
		t.Fatalf("dnode id %s: %v", role, err)
	}
	n.id, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	return n
}

// start runs `dnode <sub>` for n in its namespace until the test ends.
func (tp *topo) start(bin string, n *node, sub string) {
	t := tp.t
	logf, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", tp.ns(n.role), bin, sub, "--config", n.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true", "GOLOG_LOG_LEVEL="+logLevel)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }() // ended by the cleanup below
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			data, _ := os.ReadFile(n.log)
			t.Logf("--- last lines of %s's log:\n%s", n.role, lastLines(string(data), 40))
		}
	})
}

// info reads `dnode info --json` of n.
func (tp *topo) info(bin string, n *node) (rpc.Info, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", tp.ns(n.role), bin, "info", "--json", "--config", n.config)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var info rpc.Info
	if err := cmd.Run(); err != nil {
		return info, fmt.Errorf("dnode info %s: %v: %s", n.role, err, stderr.String())
	}
	return info, json.Unmarshal(stdout.Bytes(), &info)
}

// channelTo returns n's channel with peer id, if any.
func channelTo(info rpc.Info, id string) *rpc.ChannelInfo {
	for i := range info.Channels {
		if info.Channels[i].PeerID == id {
			return &info.Channels[i]
		}
	}
	return nil
}

// logLevel is the nodes' GOLOG_LOG_LEVEL: hole punching's and the
// sessions' debug lines say why a run ended as it did.
const logLevel = "info,p2p-holepunch=debug,dnode/sessions=debug,autorelay=debug"

// natDeadline bounds one run: AutoNAT's first verdict, a relay
// reservation, the circuit address travelling through the seed, the
// relayed channel and the hole punch.
const natDeadline = 4 * time.Minute

// holePunchGrace is how long a relayed channel must stay relayed to be the
// result: DCUtR makes three attempts of about 5 s each, and the channel
// moves within a second of a direct connection.
const holePunchGrace = 30 * time.Second

func runNAT(t *testing.T, bin, prefix string, k natKind) {
	began := time.Now()
	tp := build(t, prefix, k.masquerade)
	dir := t.TempDir()
	seed := writeConfig(t, bin, dir, "seed", nil, false)
	seedAddr := "/ip4/" + seedIP + "/udp/" + port + "/quic-v1/p2p/" + seed.id
	seedTCP := "/ip4/" + seedIP + "/tcp/" + port + "/p2p/" + seed.id
	seeds := []string{seedAddr, seedTCP}
	pub := writeConfig(t, bin, dir, "pub", seeds, true)
	n1 := writeConfig(t, bin, dir, "n1", seeds, false)
	n2 := writeConfig(t, bin, dir, "n2", seeds, false)
	tp.start(bin, seed, "seed")
	tp.start(bin, pub, "run")
	tp.start(bin, n1, "run")
	tp.start(bin, n2, "run")

	deadline := time.Now().Add(natDeadline)
	var last string
	var relayedSince time.Time // since when n1 and n2 have had a relayed channel
	for time.Now().Before(deadline) {
		time.Sleep(time.Second) // polling external processes, with a deadline
		i1, err1 := tp.info(bin, n1)
		i2, err2 := tp.info(bin, n2)
		if err1 != nil || err2 != nil {
			last = fmt.Sprintf("info: %v %v", err1, err2)
			continue
		}
		c1, c2 := channelTo(i1, n2.id), channelTo(i2, n1.id)
		last = fmt.Sprintf("n1 %s relayed=%v %v; n2 %s relayed=%v %v", i1.Reachability, i1.Relayed, describe(c1),
			i2.Reachability, i2.Relayed, describe(c2))
		if c1 == nil || c2 == nil || c1.Relayed != c2.Relayed {
			relayedSince = time.Time{}
			continue
		}
		if c1.Relayed {
			// Relayed for now: the hole punch may still come. A
			// relayed result counts only once hole punching had its
			// time (DCUtR's three attempts) and the channel stayed.
			if relayedSince.IsZero() {
				relayedSince = time.Now()
			}
			if k.wantDirect || time.Since(relayedSince) < holePunchGrace {
				continue
			}
		}
		kind := "direct (hole punched)"
		if c1.Relayed {
			kind = "relayed"
		}
		moved := 0
		for _, n := range []*node{n1, n2} {
			data, _ := os.ReadFile(n.log)
			moved += strings.Count(string(data), "channel moved to a direct connection")
		}
		t.Logf("RESULT %s NAT: n1-n2 channel is %s after %s: n1 sees %s, n2 sees %s (relayed channels moved to direct ones: %d)",
			k.name, kind, time.Since(began).Round(time.Second), c1.Addr, c2.Addr, moved)
		if c1.Relayed == k.wantDirect {
			t.Errorf("%s NAT: got a %s channel, want %s", k.name, kind, map[bool]string{true: "direct", false: "relayed"}[k.wantDirect])
		}
		return
	}
	t.Logf("RESULT %s NAT: no n1-n2 channel of the expected kind after %s (%s)", k.name, natDeadline, last)
	t.Fatalf("%s NAT: no n1-n2 channel of the expected kind in %s; last state: %s", k.name, natDeadline, last)
}

func describe(c *rpc.ChannelInfo) string {
	if c == nil {
		return "no channel"
	}
	return fmt.Sprintf("channel %s relayed=%v", c.Addr, c.Relayed)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
