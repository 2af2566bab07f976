package host

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

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

// MaxBans bounds the peer bans and, separately, the address bans a Gater
// holds (the address book's black list holds as many).
const MaxBans = 10000

// banSweepInterval is how often Ban sweeps expired bans out.
const banSweepInterval = time.Minute

// Gater is dnode's connection gater: it refuses blacklisted and banned
// peers and addresses in both directions and enforces the inbound cap,
// letting an inbound newcomer evict an inbound peer when the cap is
// reached (Evictable, ConnMgr.MakeRoom). It is safe for concurrent use;
// its methods never block.
//
// Its ban state is bounded: at most MaxBans peer bans and MaxBans address
// bans. Expired bans are dropped when looked up, by Sweep (the refinery
// calls it every round), and by Ban at most every minute; a Ban that
// finds its map full sweeps it, and if it is still full evicts the ban
// that expires soonest (an attacker's fresh identities push out each
// other's bans, not the long ones). Eviction scans the map: O(MaxBans),
// only while the map is full.
type Gater struct {
	log       *slog.Logger
	blacklist []blacklistEntry
	inbound   *ConnTracker
	evictor   evictor // nil: no eviction
	maxBans   int

	refusedInbound atomic.Uint64 // inbound connections refused at the cap
	evicted        atomic.Uint64 // bans evicted at the cap

	mu        sync.Mutex
	peerBans  map[peer.ID]Ban
	addrBans  map[netip.Addr]Ban
	lastSweep time.Time
}

var _ connmgr.ConnectionGater = (*Gater)(nil)

// evictor makes room for inbound newcomers when the cap is reached; the
// ConnMgr is one.
type evictor interface {
	// Connected reports whether p has a connection with us.
	Connected(p peer.ID) bool
	// MakeRoom evicts an inbound peer for newcomer p and reports whether
	// it did. It must not block on the network.
	MakeRoom(p peer.ID) bool
}

func newGater(log *slog.Logger, blacklist []string, tracker *ConnTracker) (*Gater, error) {
	g := &Gater{
		log:      log,
		inbound:  tracker,
		maxBans:  MaxBans,
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
	now := time.Now()
	until := now.Add(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.lastSweep) >= banSweepInterval {
		g.sweepLocked(now)
	}
	if p != "" {
		if _, ok := g.peerBans[p]; !ok {
			makeRoom(g, now, g.peerBans)
		}
		g.peerBans[p] = Ban{Peer: p, Until: until, Reason: reason}
	}
	if a.IsValid() {
		a = a.Unmap()
		if _, ok := g.addrBans[a]; !ok {
			makeRoom(g, now, g.addrBans)
		}
		g.addrBans[a] = Ban{Peer: p, Addr: a, Until: until, Reason: reason}
	}
}

// makeRoom frees one entry of a full ban map: it sweeps expired bans, and
// if none expired evicts the ban that expires soonest. g.mu.
func makeRoom[K comparable](g *Gater, now time.Time, bans map[K]Ban) {
	if len(bans) < g.maxBans {
		return
	}
	g.sweepLocked(now)
	if len(bans) < g.maxBans {
		return
	}
	var (
		victim K
		soon   time.Time
		found  bool
	)
	for k, b := range bans {
		if !found || b.Until.Before(soon) {
			victim, soon, found = k, b.Until, true
		}
	}
	delete(bans, victim)
	g.evicted.Add(1)
	g.log.Debug("ban map full: evicted the ban expiring soonest", "until", soon)
}

// Sweep drops expired bans and returns how many it dropped.
func (g *Gater) Sweep() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sweepLocked(time.Now())
}

func (g *Gater) sweepLocked(now time.Time) int {
	g.lastSweep = now
	n := 0
	for k, b := range g.peerBans {
		if !now.Before(b.Until) {
			delete(g.peerBans, k)
			n++
		}
	}
	for k, b := range g.addrBans {
		if !now.Before(b.Until) {
			delete(g.addrBans, k)
			n++
		}
	}
	return n
}

// BanCounts returns how many peer and address bans the gater holds
// (expired ones not yet swept included).
func (g *Gater) BanCounts() (peers, addrs int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.peerBans), len(g.addrBans)
}

// EvictedBans returns how many bans were evicted because a map was full.
func (g *Gater) EvictedBans() uint64 { return g.evicted.Load() }

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
	now := time.Now()
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
	now := time.Now()
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

// InterceptSecured implements connmgr.ConnectionGater, by Admit.
func (g *Gater) InterceptSecured(dir network.Direction, p peer.ID, cm network.ConnMultiaddrs) bool {
	m := cm.RemoteMultiaddr()
	a := Admission{Dir: dir, Blacklisted: g.Blacklisted(p, m)}
	if !a.Blacklisted {
		a.Banned = g.Banned(p, m)
	}
	if !a.Banned && dir == network.DirInbound && g.inbound != nil {
		st := g.inbound.state(p)
		a.InboundFull = st.count >= st.limit
		a.Inbound, a.Limit, a.Connected = st.count, st.limit, st.known
	}
	err := Admit(a)
	if errors.Is(err, ErrInboundFull) && g.evictor != nil {
		a.Connected = a.Connected || g.evictor.Connected(p)
		if Evictable(a) && g.evictor.MakeRoom(p) {
			err = nil
		}
	}
	if errors.Is(err, ErrInboundFull) {
		g.refusedInbound.Add(1)
		g.log.Debug("inbound connection refused: inbound slots full", "peer", p, "addr", m)
	}
	return err == nil
}

// InterceptUpgraded implements connmgr.ConnectionGater.
func (g *Gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
