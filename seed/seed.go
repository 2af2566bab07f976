// Package seed runs a dnode seed node, DarkFi's Lilith: for each network
// it serves, an ordinary node with no outbound slots, the relaxed ban
// policy, a refinery that also re-probes its whitelist, and its own
// address book and hostlist. Beyond Lilith, which needs a listener per
// network, every network shares one libp2p host and so one port: the
// network id in each protocol ID routes a peer to its network's handlers,
// and a node of one network only ever learns hosts of that network.
package seed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/addrbook"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/internal/logging"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/settings"
)

// Seed is a seed node serving one or more networks. It is safe for
// concurrent use.
type Seed struct {
	settings settings.Settings
	networks []string
	opts     []dnode.Option
	logs     logging.Factory
	log      *slog.Logger

	mu    sync.Mutex
	host  *dhost.Host
	nodes map[string]*dnode.Node

	// members holds the running networks' nodes for the host's relay
	// ACL, which must not wait for mu.
	members atomic.Pointer[[]*dnode.Node]
}

// isMember reports whether p has a channel with one of the seed's
// networks.
func (sd *Seed) isMember(p peer.ID) bool {
	nodes := sd.members.Load()
	if nodes == nil {
		return false
	}
	for _, n := range *nodes {
		if nodeinternal.IsMember(n, p) {
			return true
		}
	}
	return false
}

// Networks returns the networks a seed configured with s serves: the
// [seed] networks, or the top-level network if none are listed.
func Networks(s settings.Settings) []string {
	if len(s.Seed.Networks) > 0 {
		return append([]string(nil), s.Seed.Networks...)
	}
	return []string{s.Network}
}

// NodeSettings returns the settings of the node that serves network on a
// seed configured with s: no outbound slots, relaxed bans, and the
// network's own hostlist under the datastore.
func NodeSettings(s settings.Settings, network string) settings.Settings {
	ns := s.Clone()
	ns.Network = network
	ns.Net.OutboundConnections = 0
	ns.Net.BanPolicy = settings.BanRelaxed
	ns.Net.InboundConnections = s.Seed.InboundConnections
	if len(Networks(s)) > 1 || ns.Net.Hostlist == "" {
		ns.Net.Hostlist = filepath.Join(s.Datastore, network, "hostlist.tsv")
	}
	return ns
}

// New validates s and returns a seed that is not started. logHandler
// (nil means go-log) receives the seed's and its nodes' logs; opts apply to
// every network's node (WithHost is set by the seed itself).
func New(s settings.Settings, logHandler slog.Handler, opts ...dnode.Option) (*Seed, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	sd := &Seed{settings: s.Clone(), networks: Networks(s), logs: logging.New(logHandler, "node", "seed")}
	sd.opts = append([]dnode.Option{dnode.WithLogHandler(logHandler, "node", "seed")}, opts...)
	sd.log = sd.logs.Logger("seed")
	return sd, nil
}

// Start builds the shared host and starts one node per network. It fails
// if a listener cannot bind or a network's node cannot start; then nothing
// is left running.
func (sd *Seed) Start(ctx context.Context) error {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if sd.host != nil {
		return dnode.ErrRunning
	}
	key, _, err := dhost.LoadOrCreateIdentityLog(sd.settings.Datastore, sd.log)
	if err != nil {
		return err
	}
	s := &sd.settings
	px, err := s.Net.ProxyURL() // validated by New
	if err != nil {
		return err
	}
	h, err := dhost.New(dhost.Config{
		Identity:         key,
		Listen:           s.Net.Inbound,
		External:         s.Net.ExternalAddrs,
		InboundLimit:     s.Seed.InboundConnections,
		OutboundLimit:    len(sd.networks) * 8, // refinery probes
		HandshakeTimeout: s.Net.HandshakeBound(),
		Blacklist:        s.Net.Blacklist,
		Proxy:            px,
		Onion:            dnode.OnionConfig(*s),
		NAT:              dnode.NATConfig(*s, sd.isMember),
		UserAgent:        dnode.UserAgent,
		ProtocolVersion:  "dnode/1.0.0",
		Logs:             sd.logs,
	})
	if err != nil {
		return err
	}
	nodes := make(map[string]*dnode.Node, len(sd.networks))
	stopAll := func() {
		for _, n := range nodes {
			_ = n.Stop()
		}
		_ = h.Close()
	}
	for _, nw := range sd.networks {
		opts := append([]dnode.Option{
			dnode.WithWhitelistRecheck(s.Seed.WhitelistRefineryInterval),
			dnode.WithLogAttrs("network", nw),
		}, sd.opts...)
		opts = append(opts, dnode.WithHost(h))
		n, err := dnode.New(NodeSettings(*s, nw), opts...)
		if err == nil {
			err = n.Start(ctx)
		}
		if err != nil {
			stopAll()
			return fmt.Errorf("seed network %s: %w", nw, err)
		}
		nodes[nw] = n
		running := make([]*dnode.Node, 0, len(nodes))
		for _, n := range nodes {
			running = append(running, n)
		}
		sd.members.Store(&running)
	}
	sd.host, sd.nodes = h, nodes
	sd.log.Info("seed node started", "peer_id", h.ID(), "networks", sd.networks, "addrs", h.Addrs())
	return nil
}

// Stop stops every network's node and closes the host. It is idempotent.
func (sd *Seed) Stop() error {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if sd.host == nil {
		return nil
	}
	var errs []error
	for _, n := range sd.nodes {
		errs = append(errs, n.Stop())
	}
	errs = append(errs, sd.host.Close())
	sd.host, sd.nodes = nil, nil
	sd.members.Store(nil)
	return errors.Join(errs...)
}

// Node returns the node serving network (nil if none or not running).
func (sd *Seed) Node(network string) *dnode.Node {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return sd.nodes[network]
}

// Host returns the shared host (nil when not running).
func (sd *Seed) Host() *dhost.Host {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return sd.host
}

// Books returns each network's address book.
func (sd *Seed) Books() map[string]*addrbook.Book {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	out := make(map[string]*addrbook.Book, len(sd.nodes))
	for nw, n := range sd.nodes {
		out[nw] = nodeinternal.Book(n)
	}
	return out
}
