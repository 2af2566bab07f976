package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/seed"
	"github.com/dnode-p2p/dnode/settings"
)

const benchNetwork = "bench"

// nodeSettings mirrors integration/harness_test.go's testSettings: loopback
// TCP on port 0, its own datastore, localnet, no RPC, no outbound slots.
func nodeSettings(dir string) settings.Settings {
	s := settings.Default()
	s.Network = benchNetwork
	s.Datastore = dir
	s.RPCListen = ""
	s.Net.Inbound = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}
	s.Net.Localnet = true
	s.Net.OutboundConnections = 0
	s.Net.InboundConnections = 4096
	for name, p := range s.Net.Profiles {
		p.OutboundConnectTimeout = 5 * time.Second
		p.ChannelHandshakeTimeout = 5 * time.Second
		p.ChannelHeartbeatInterval = 10 * time.Second
		s.Net.Profiles[name] = p
	}
	return s
}

// tmpDirs collects temporary datastores, removed at exit.
var tmpDirs []string

func tempDir() string {
	d, err := os.MkdirTemp("", "dnodebench-")
	must(err)
	tmpDirs = append(tmpDirs, d)
	return d
}

func cleanup() {
	for _, d := range tmpDirs {
		_ = os.RemoveAll(d)
	}
}

// newNode builds a dnode node; setup may register protocols before Start.
func newNode(s settings.Settings, setup func(*dnode.Node)) *dnode.Node {
	n, err := dnode.New(s, dnode.WithLogHandler(slog.DiscardHandler), dnode.WithPerIPLimit(100000))
	must(err)
	if setup != nil {
		setup(n)
	}
	must(n.Start(context.Background()))
	return n
}

// newBareHost is a plain go-libp2p host with the transport stack dnode
// dials with (TCP, noise, yamux), no resource limits, listening on
// loopback.
func newBareHost() host.Host {
	return bareHost(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
}

// newDialHost is newBareHost without a listener.
func newDialHost() host.Host { return bareHost(libp2p.NoListenAddrs) }

func bareHost(listen libp2p.Option) host.Host {
	h, err := libp2p.New(
		listen,
		libp2p.NoTransports,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	must(err)
	return h
}

// startSeed starts a seed.Seed with settings ss (whitelist re-check every
// 5 s) and returns it with its first /p2p address. The caller stops it.
func startSeed(ss settings.Settings) (*seed.Seed, []ma.Multiaddr) {
	ss.Seed.WhitelistRefineryInterval = 5 * time.Second
	sd, err := seed.New(ss, slog.DiscardHandler, dnode.WithPerIPLimit(100000))
	must(err)
	must(sd.Start(context.Background()))
	h := sd.Host()
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	must(err)
	return sd, addrs
}

func addrInfo(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pct returns the p-th percentile (0..100) of ds (sorted in place).
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds)-1) * p / 100)
	return ds[i]
}

// agg is a figure's per-round values.
type agg []float64

func (a agg) med() float64 {
	if len(a) == 0 {
		return 0
	}
	s := slices.Clone(a)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
func (a agg) min() float64 { return slices.Min(a) }
func (a agg) max() float64 { return slices.Max(a) }

// memSnap is the process's memory and goroutines after a full GC.
type memSnap struct {
	rss, heap, stack uint64
	goroutines       int
}

func snapMem() memSnap {
	for range 2 {
		runtime.GC()
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnap{rss: rssBytes(), heap: ms.HeapAlloc, stack: ms.StackInuse, goroutines: runtime.NumGoroutine()}
}

func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				v, _ := strconv.ParseUint(f[1], 10, 64)
				return v * 1024
			}
		}
	}
	return 0
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// waitFor polls cond every 2 ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

func itoa(i int) string { return strconv.Itoa(i) }

func addrInfoOf(a ma.Multiaddr) peer.AddrInfo {
	ai, err := peer.AddrInfoFromP2pAddr(a)
	must(err)
	return *ai
}
