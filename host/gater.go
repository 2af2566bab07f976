package host

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Ban is one active ban.
type Ban struct {
	Peer   peer.ID    // banned peer ("" for an address-only ban)
	Addr   netip.Addr // banned address (invalid for a peer-only ban)
	Until  time.Time
	Reason string
}

// Gater is dnode's connection gater: it refuses blacklisted and banned
// peers and addresses in both directions and enforces the inbound cap.
// It is safe for concurrent use; its methods never block.
type Gater struct {
	clock     clock.Clock
	log       *slog.Logger
	blacklist []blacklistEntry
	inbound   *ConnTracker

	refusedInbound atomic.Uint64 // inbound connections refused at the cap

	mu       sync.Mutex
	peerBans map[peer.ID]Ban
	addrBans map[netip.Addr]Ban
}

var _ connmgr.ConnectionGater = (*Gater)(nil)

func newGater(c clock.Clock, log *slog.Logger, blacklist []string, tracker *ConnTracker) (*Gater, error) {
	g := &Gater{
		clock:    c,
		log:      log,
		inbound:  tracker,
		peerBans: make(map[peer.ID]Ban),
		addrBans: make(map[netip.Addr]Ban),
	}
	for _, s := range blacklist {
		e, err := ParseBlacklistEntry(s)
		if err != nil {
			return nil, fmt.Errorf("blacklist: %w", err)
		}
		g.blacklist = append(g.blacklist, e)
	}
	return g, nil
}

// Ban refuses peer p (if not empty) and address a (if valid) until d has
// passed. Banning again extends or shortens the ban to the new time.
func (g *Gater) Ban(p peer.ID, a netip.Addr, d time.Duration, reason string) {
	until := g.clock.Now().Add(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	if p != "" {
		g.peerBans[p] = Ban{Peer: p, Until: until, Reason: reason}
	}
	if a.IsValid() {
		a = a.Unmap()
		g.addrBans[a] = Ban{Peer: p, Addr: a, Until: until, Reason: reason}
	}
}

// Unban lifts the bans on p and a. It reports whether any ban was lifted.
func (g *Gater) Unban(p peer.ID, a netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok1 := g.peerBans[p]
	_, ok2 := g.addrBans[a.Unmap()]
	delete(g.peerBans, p)
	delete(g.addrBans, a.Unmap())
	return ok1 || ok2
}

// Bans returns the active bans, soonest expiry first.
func (g *Gater) Bans() []Ban {
	now := g.clock.Now()
	g.mu.Lock()
	var out []Ban
	for k, b := range g.peerBans {
		if now.After(b.Until) {
			delete(g.peerBans, k)
			continue
		}
		out = append(out, b)
	}
	for k, b := range g.addrBans {
		if now.After(b.Until) {
			delete(g.addrBans, k)
			continue
		}
		if b.Peer != "" {
			if _, dup := g.peerBans[b.Peer]; dup {
				continue
			}
		}
		out = append(out, b)
	}
	g.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Until.Before(out[j].Until) })
	return out
}

// Blacklisted reports whether the configured blacklist covers peer p at
// address m (either may be empty).
func (g *Gater) Blacklisted(p peer.ID, m ma.Multiaddr) bool {
	a, port := addrOf(m)
	for _, e := range g.blacklist {
		if e.matches(p, a, port) {
			return true
		}
	}
	return false
}

// Banned reports whether p or the address of m is banned now.
func (g *Gater) Banned(p peer.ID, m ma.Multiaddr) bool {
	a, _ := addrOf(m)
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if b, ok := g.peerBans[p]; ok && p != "" {
		if now.Before(b.Until) {
			return true
		}
		delete(g.peerBans, p)
	}
	if b, ok := g.addrBans[a]; ok && a.IsValid() {
		if now.Before(b.Until) {
			return true
		}
		delete(g.addrBans, a)
	}
	return false
}

// Refused reports whether a connection to or from p at m is refused by the
// blacklist or a ban.
func (g *Gater) Refused(p peer.ID, m ma.Multiaddr) bool {
	return g.Blacklisted(p, m) || g.Banned(p, m)
}

// RefusedInbound returns how many inbound connections the cap refused.
func (g *Gater) RefusedInbound() uint64 { return g.refusedInbound.Load() }

// InterceptPeerDial implements connmgr.ConnectionGater.
func (g *Gater) InterceptPeerDial(p peer.ID) bool { return !g.Refused(p, nil) }

// InterceptAddrDial implements connmgr.ConnectionGater.
func (g *Gater) InterceptAddrDial(p peer.ID, m ma.Multiaddr) bool { return !g.Refused(p, m) }

// InterceptAccept implements connmgr.ConnectionGater.
func (g *Gater) InterceptAccept(cm network.ConnMultiaddrs) bool {
	return !g.Refused("", cm.RemoteMultiaddr())
}

// InterceptSecured implements connmgr.ConnectionGater.
func (g *Gater) InterceptSecured(dir network.Direction, p peer.ID, cm network.ConnMultiaddrs) bool {
	if g.Refused(p, cm.RemoteMultiaddr()) {
		return false
	}
	if dir == network.DirInbound && g.inbound != nil && g.inbound.InboundFull() {
		g.refusedInbound.Add(1)
		g.log.Debug("inbound connection refused: inbound slots full", "peer", p, "addr", cm.RemoteMultiaddr())
		return false
	}
	return true
}

// InterceptUpgraded implements connmgr.ConnectionGater.
func (g *Gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
