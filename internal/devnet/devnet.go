// Package devnet runs a whole dnode network in one process on loopback: a
// seed and N nodes with short timers, each node running dchat (and, when
// the caller provides it, an RPC server). It backs `dnode devnet`, the
// newcomer's first run, and its tests.
package devnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/dchat"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/seed"
	"github.com/dnode-p2p/dnode/settings"
)

// Network is the network id of a devnet.
const Network = "devnet"

// RPCStarter starts an RPC server for a running node and its chat; it
// returns the server's address and a function that stops it.
type RPCStarter func(n *dnode.Node, chat *dchat.Chat) (addr string, stop func(), err error)

// Config says how to build a devnet. Zero values take the defaults noted.
type Config struct {
	Nodes      int          // default 8
	Slots      int          // outbound slots per node; default min(8, Nodes-1)
	Out        io.Writer    // progress output; default io.Discard
	LogHandler slog.Handler // the nodes' logs; default discard
	StartRPC   RPCStarter   // optional
}

// Devnet is a running devnet. Its methods are not safe for concurrent use.
type Devnet struct {
	cfg      Config
	dir      string
	seed     *seed.Seed
	Nodes    []*dnode.Node
	Chats    []*dchat.Chat
	RPCAddrs []string
	stopRPC  []func()
}

// nodeSettings are the settings of one devnet node: loopback, localnet,
// short timers so that the network forms in seconds.
func nodeSettings(dir string, seeds []ma.Multiaddr, slots int) settings.Settings {
	s := settings.Default()
	s.Network = Network
	s.Datastore = dir
	s.RPCListen = ""
	s.Net.Inbound = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}
	s.Net.Seeds = seeds
	s.Net.Localnet = true
	s.Net.OutboundConnections = slots
	s.Net.InboundConnections = 32
	s.Net.OutboundPeerDiscoveryAttemptTime = 500 * time.Millisecond
	s.Net.GreylistRefineryInterval = time.Second
	s.Net.HostlistSaveInterval = time.Minute
	for name, p := range s.Net.Profiles {
		p.OutboundConnectTimeout = 5 * time.Second
		p.ChannelHandshakeTimeout = 5 * time.Second
		p.ChannelHeartbeatInterval = 10 * time.Second
		s.Net.Profiles[name] = p
	}
	return s
}

// Start starts the seed and the nodes. On error everything started is
// stopped again.
func Start(ctx context.Context, cfg Config) (_ *Devnet, err error) {
	if cfg.Nodes <= 0 {
		cfg.Nodes = 8
	}
	if cfg.Slots <= 0 {
		cfg.Slots = min(8, cfg.Nodes-1)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.LogHandler == nil {
		cfg.LogHandler = slog.DiscardHandler
	}
	dir, err := os.MkdirTemp("", "dnode-devnet-")
	if err != nil {
		return nil, err
	}
	d := &Devnet{cfg: cfg, dir: dir}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()

	ss := nodeSettings(filepath.Join(dir, "seed"), nil, 0)
	ss.Seed.WhitelistRefineryInterval = 5 * time.Second
	if d.seed, err = seed.New(ss, cfg.LogHandler); err != nil {
		return nil, err
	}
	if err = d.seed.Start(ctx); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	h := d.seed.Host()
	seedAddrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Out, "seed   %s\n", seedAddrs[0])

	for i := range cfg.Nodes {
		name := fmt.Sprintf("node%d", i+1)
		s := nodeSettings(filepath.Join(dir, name), seedAddrs[:1], cfg.Slots)
		n, err := dnode.New(s, dnode.WithLogHandler(cfg.LogHandler, "node", name))
		if err != nil {
			return nil, err
		}
		chat, err := dchat.New(n, dchat.Config{})
		if err != nil {
			return nil, err
		}
		if err := n.Start(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		d.Nodes = append(d.Nodes, n)
		d.Chats = append(d.Chats, chat)
		rpcAddr := "-"
		if cfg.StartRPC != nil {
			addr, stop, err := cfg.StartRPC(n, chat)
			if err != nil {
				return nil, fmt.Errorf("%s rpc: %w", name, err)
			}
			d.stopRPC = append(d.stopRPC, stop)
			rpcAddr = addr
		}
		d.RPCAddrs = append(d.RPCAddrs, rpcAddr)
		fmt.Fprintf(cfg.Out, "%-6s %s  rpc %s\n", name, n.Addrs()[0], rpcAddr)
	}
	return d, nil
}

// Filled returns each node's number of filled outbound slots.
func (d *Devnet) Filled() []int {
	out := make([]int, len(d.Nodes))
	for i, n := range d.Nodes {
		for _, id := range nodeinternal.OutboundSlots(n) {
			if id != 0 {
				out[i]++
			}
		}
	}
	return out
}

// WaitSlots waits until every node filled its slots, printing a progress
// line every interval, or fails when ctx is done.
func (d *Devnet) WaitSlots(ctx context.Context, interval time.Duration) (time.Duration, error) {
	start := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		filled := d.Filled()
		full := true
		var b strings.Builder
		fmt.Fprintf(&b, "%6.1fs slots", time.Since(start).Seconds())
		for i, f := range filled {
			fmt.Fprintf(&b, "  n%d %d/%d", i+1, f, d.cfg.Slots)
			full = full && f == d.cfg.Slots
		}
		fmt.Fprintln(d.cfg.Out, b.String())
		if full {
			return time.Since(start), nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("not every node filled its %d slots: %v", d.cfg.Slots, filled)
		}
	}
}

// Demo sends one dchat message from the first node and waits until every
// other node delivered it, returning how long that took.
func (d *Devnet) Demo(ctx context.Context, text string) (time.Duration, error) {
	if len(d.Nodes) < 2 {
		return 0, errors.New("a devnet needs two nodes for the demo")
	}
	subs := make([]*dchat.Subscription, len(d.Chats))
	for i, c := range d.Chats[1:] {
		subs[i+1] = c.Subscribe(16)
		defer subs[i+1].Close()
	}
	start := time.Now()
	msg, err := d.Chats[0].Send(text)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(d.cfg.Out, "node1 sent %q\n", text)
	reached := 0
	for i, s := range subs[1:] {
	wait:
		for {
			select {
			case m := <-s.C():
				if m.ID == msg.ID {
					reached++
					fmt.Fprintf(d.cfg.Out, "  node%d got it after %s (%d hops)\n", i+2, time.Since(start).Round(time.Microsecond), m.Hops)
					break wait
				}
			case <-ctx.Done():
				return time.Since(start), fmt.Errorf("the message reached %d of %d nodes", reached, len(d.Nodes)-1)
			}
		}
	}
	return time.Since(start), nil
}

// Close stops every node, the seed and the RPC servers, and removes the
// temporary datastores.
func (d *Devnet) Close() error {
	var errs []error
	for _, stop := range d.stopRPC {
		stop()
	}
	for _, n := range d.Nodes {
		errs = append(errs, n.Stop())
	}
	if d.seed != nil {
		errs = append(errs, d.seed.Stop())
	}
	errs = append(errs, os.RemoveAll(d.dir))
	return errors.Join(errs...)
}
