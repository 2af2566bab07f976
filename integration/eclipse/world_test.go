package eclipse

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/sessions"
)

// Defences are the defences a trial runs with.
type Defences struct {
	Buckets    bool // greylist buckets (off: addrbook.Config.FlatGreylist)
	GroupPicks bool // gold and white picks netgroup first (off: addrbook.Config.UniformPicks)
	Anchors    bool // anchors saved at the restart and dialed first
	Diversity  bool // outbound netgroup diversity (off: as under localnet)
}

func (d Defences) String() string {
	on := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	return fmt.Sprintf("buckets %s, group picks %s, anchors %s, diversity %s",
		on(d.Buckets), on(d.GroupPicks), on(d.Anchors), on(d.Diversity))
}

// Scenario is the attack and the network around the victim. Steps are
// one refinery interval (15 s) each.
type Scenario struct {
	Honest        int     // honest nodes, one /16 each
	Attackers     int     // attacker identities...
	AttackerNets  int     // ...spread evenly over this many /16s
	Slots         int     // the victim's outbound_connections
	KnownPercent  int     // its effective known_peer_percent
	Inbound       int     // its inbound_connections, all taken by the attacker
	AttackerConns int     // new attacker inbound channels per step (each replaces the oldest)
	ReplyEntries  int     // entries in one Addrs reply (2·getaddrs_max)
	JunkShare     float64 // share of an attacker reply that is made-up (offline) hosts
	WarmupSteps   int     // before the attack: honest network only
	AttackSteps   int     // attack before the victim restarts
	AfterSteps    int     // attack after the restart
	HonestDown    float64 // chance per step that an online honest node goes offline
	HonestUp      float64 // chance per step that an offline one comes back
	PromptsPerRun int     // self-advertisement probes the refinery runs per step
}

// DefaultScenario is the attack in the shape of the reference
// test matrix's I14 (eclipse at restart): 1000 identities on 10 /16s
// against a victim with the default 8 outbound and 8 inbound slots that
// knows 20 honest nodes (one /16 each). After 5 minutes of an honest
// network (the slots fill in the first minute), the attacker floods for
// 10 minutes: it holds every inbound slot and opens 3 channels with new
// identities every 15 s, each bringing the 17 entries the addr rate
// limit lets in (half of them made-up hosts), 2000 in all, twice what
// its 10 /16s can hold in the greylist buckets.
// Then the victim restarts, the attack goes on, and the trial is judged
// 2 minutes after the restart. Honest nodes stay up about 20 minutes and
// down about 2 (hard churn: slots refill under attack).
func DefaultScenario() Scenario {
	return Scenario{
		Honest: 20, Attackers: 1000, AttackerNets: 10,
		Slots: 8, KnownPercent: 70, Inbound: 8, AttackerConns: 3, ReplyEntries: 16, JunkShare: 0.5,
		WarmupSteps: 20, AttackSteps: 40, AfterSteps: 8,
		HonestDown: 1.0 / 80, HonestUp: 1.0 / 8, PromptsPerRun: 8,
	}
}

// LongScenario is DefaultScenario with an hour of attack before the
// restart (at 2 new identities per 15 s, to keep it affordable: the
// attacker's buckets are full within minutes either way) and five minutes
// after it.
func LongScenario() Scenario {
	sc := DefaultScenario()
	sc.AttackerConns, sc.AttackSteps, sc.AfterSteps = 2, 240, 20
	return sc
}

// Outcome is what one trial measured: honest outbound channels.
type Outcome struct {
	MinDuringAttack int // fewest honest outbound at the end of any attack step (before the restart)
	BeforeRestart   int // at the last step before the restart
	AfterRestart    int // at the last step after it
	MinAfterRestart int // fewest after the restart, from the second step on (slots dial in the first)
	SharedNetgroup  int // steps that ended with two outbound peers in one netgroup
}

// Kept reports whether the victim kept an honest outbound channel both
// through the restart and at the end.
func (o Outcome) Kept() bool { return o.BeforeRestart > 0 && o.AfterRestart > 0 }

type simNode struct {
	entry  addrbook.Entry
	group  ma.Multiaddr // transport address, the source address the victim sees
	honest bool
	online bool
}

type slot struct {
	known bool
	node  *simNode // connected host, nil when empty
	entry addrbook.Entry
	first *addrbook.Entry // an anchor to dial at the next step
}

// world is one trial: the victim's book and slots, and everyone else.
type world struct {
	sc   Scenario
	def  Defences
	rng  *rand.Rand
	seed uint64
	dir  string

	self     peer.ID
	nodes    map[peer.ID]*simNode
	honest   []*simNode
	attacker []*simNode
	conns    map[peer.ID]ma.Multiaddr // the victim's connections: peer → remote address

	book    *addrbook.Book
	slots   []*slot
	inbound []*simNode
	prompts []addrbook.Entry
	shared  int // steps that ended with two outbound peers in one netgroup
}

// peerID is a valid peer ID derived from n (a sha2-256 multihash).
func peerID(n uint64) peer.ID {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	sum := sha256.Sum256(b[:])
	return peer.ID(append([]byte{0x12, 0x20}, sum[:]...))
}

// worldStart is the virtual time a trial starts at.
var worldStart = time.Unix(1_700_000_000, 0)

// newWorld builds a trial. Build and run it inside a testing/synctest
// bubble: the book reads the bubble's virtual time, which the world moves
// with time.Sleep.
func newWorld(sc Scenario, def Defences, seed uint64, dir string) *world {
	time.Sleep(time.Until(worldStart))
	w := &world{
		sc: sc, def: def, seed: seed, dir: dir,
		rng:   rand.New(rand.NewPCG(seed, 0xec1)),
		self:  peerID(seed<<32 | 0xffffffff),
		nodes: make(map[peer.ID]*simNode),
		conns: make(map[peer.ID]ma.Multiaddr),
	}
	// Distinct random global /16s in 11.0.0.0-99.255.255.255: the
	// attacker's first, then one per honest node.
	used := map[int]bool{}
	net16 := func() int {
		for {
			n := (11+w.rng.IntN(89))<<8 | w.rng.IntN(256)
			if !used[n] {
				used[n] = true
				return n
			}
		}
	}
	attackerNets := make([]int, sc.AttackerNets)
	for i := range attackerNets {
		attackerNets[i] = net16()
	}
	id := seed << 32
	for i := range sc.Attackers {
		n := attackerNets[i%sc.AttackerNets]
		w.attacker = append(w.attacker, w.add(id, n, 1+i/sc.AttackerNets, false))
		id++
	}
	for range sc.Honest {
		w.honest = append(w.honest, w.add(id, net16(), 1, true))
		id++
	}
	w.slots = make([]*slot, sc.Slots)
	known := sessions.KnownSlots(sc.Slots, sc.KnownPercent)
	for i := range w.slots {
		w.slots[i] = &slot{known: i < known}
	}
	w.book = w.newBook(1)
	return w
}

// add makes a node at host h of /16 n.
func (w *world) add(id uint64, n, h int, honest bool) *simNode {
	p := peerID(id)
	tr := ma.StringCast(fmt.Sprintf("/ip4/%d.%d.%d.%d/tcp/4000", n>>8, n&0xff, h>>8&0xff, h&0xff))
	full := tr.Encapsulate(ma.StringCast("/p2p/" + p.String()))
	nd := &simNode{entry: addrbook.Entry{Addr: full, Peer: p}, group: tr, honest: honest, online: true}
	w.nodes[p] = nd
	return nd
}

// junkPool are made-up hosts the attacker advertises: random global
// addresses of peers that nobody runs. They are built once per test
// binary (parsing multiaddrs is most of a trial's cost otherwise) and
// drawn at random by each trial.
var junkPool = sync.OnceValue(func() []addrbook.Entry {
	rng := rand.New(rand.NewPCG(0x1c, 0x1c))
	out := make([]addrbook.Entry, 20000)
	for i := range out {
		n := (11+rng.IntN(89))<<8 | rng.IntN(256)
		h := 1 + rng.IntN(65000)
		p := peerID(uint64(i) | 1<<63)
		a := ma.StringCast(fmt.Sprintf("/ip4/%d.%d.%d.%d/tcp/4000/p2p/%s", n>>8, n&0xff, h>>8, h&0xff, p))
		out[i] = addrbook.Entry{Addr: a, Peer: p}
	}
	return out
})

func (w *world) junk() addrbook.Entry {
	pool := junkPool()
	return pool[w.rng.IntN(len(pool))]
}

func (w *world) newBook(run uint64) *addrbook.Book {
	return addrbook.New(addrbook.Config{
		Self:         w.self,
		FlatGreylist: !w.def.Buckets,
		UniformPicks: !w.def.GroupPicks,
		Node:         worldNode{w: w},
		Rand:         rand.NewPCG(w.seed, run),
	})
}

// honestReply is what an honest node answers to GetAddrs: other honest
// nodes it knows, seen in the last hour (honest nodes here know only
// honest nodes, which favours no defence).
func (w *world) honestReply() []addrbook.Entry {
	out := make([]addrbook.Entry, 0, w.sc.ReplyEntries)
	for _, i := range w.rng.Perm(len(w.honest))[:min(w.sc.ReplyEntries, len(w.honest))] {
		e := w.honest[i].entry
		e.LastSeen = time.Now().Add(-time.Duration(w.rng.IntN(3600)) * time.Second)
		out = append(out, e)
	}
	return out
}

// attackerReply is what an attacker identity sends: fresh entries of its
// identities and made-up hosts, the first one itself.
func (w *world) attackerReply(self *simNode) []addrbook.Entry {
	out := make([]addrbook.Entry, 0, w.sc.ReplyEntries+1)
	e := self.entry
	e.LastSeen = time.Now()
	out = append(out, e)
	for range w.sc.ReplyEntries {
		var e addrbook.Entry
		if w.rng.Float64() < w.sc.JunkShare {
			e = w.junk()
		} else {
			e = w.attacker[w.rng.IntN(len(w.attacker))].entry
		}
		e.LastSeen = time.Now()
		out = append(out, e)
	}
	return out
}

// online reports whether a dial of p would complete a handshake.
func (w *world) online(p peer.ID) (*simNode, bool) {
	nd := w.nodes[p]
	return nd, nd != nil && nd.online
}

// receive files a reply from nd, connected from its address.
func (w *world) receive(nd *simNode, entries []addrbook.Entry) {
	w.book.Insert(nd.entry.Peer, entries)
	if !nd.honest {
		// The attacker advertised itself: the refinery is prompted.
		w.prompts = append(w.prompts, entries[0])
	}
}

// churn takes honest nodes down and up; a slot whose peer went down
// loses its channel.
func (w *world) churn() {
	for _, nd := range w.honest {
		switch {
		case nd.online && w.rng.Float64() < w.sc.HonestDown:
			nd.online = false
		case !nd.online && w.rng.Float64() < w.sc.HonestUp:
			nd.online = true
		}
	}
	for _, s := range w.slots {
		if s.node != nil && !s.node.online {
			w.book.Disconnected(s.entry)
			delete(w.conns, s.entry.Peer)
			s.node = nil
		}
	}
}

// attackInbound: the attacker holds every inbound slot and replaces its
// oldest inbound identities by new ones, AttackerConns a step (new
// identities: new per-peer quotas and token buckets). Each new channel
// gets our GetAddrs and answers it with ReplyEntries entries and itself.
func (w *world) attackInbound() {
	for range w.sc.AttackerConns {
		if len(w.inbound) == w.sc.Inbound {
			old := w.inbound[0]
			w.inbound = w.inbound[1:]
			if !w.holdsSlot(old.entry.Peer) {
				delete(w.conns, old.entry.Peer)
			}
		}
		nd := w.attacker[w.rng.IntN(len(w.attacker))]
		w.inbound = append(w.inbound, nd)
		w.conns[nd.entry.Peer] = nd.group
		w.receive(nd, w.attackerReply(nd))
	}
}

func (w *world) holdsSlot(p peer.ID) bool {
	for _, s := range w.slots {
		if s.node != nil && s.entry.Peer == p {
			return true
		}
	}
	return false
}

// refine runs the refinery for one interval: the prompted
// self-advertisements (at most PromptsPerRun) and one periodic probe.
func (w *world) refine() {
	n := 0
	for _, e := range w.prompts {
		if n == w.sc.PromptsPerRun {
			break
		}
		if c, ok := w.book.Contains(e.Peer); !ok || c != addrbook.Grey {
			continue
		}
		if w.book.Transition(e.Peer, addrbook.Refine) != nil {
			continue
		}
		_, up := w.online(e.Peer)
		w.book.Refined(e, up)
		n++
	}
	w.prompts = w.prompts[:0]
	if e, err := w.book.BeginRefine(); err == nil {
		_, up := w.online(e.Peer)
		w.book.Refined(e, up)
	}
}

// fill gives every empty slot one dial: its anchor if it has one, else a
// pick from the book under the slots' diversity rule.
func (w *world) fill() {
	for _, s := range w.slots {
		if s.node != nil {
			continue
		}
		var e addrbook.Entry
		if s.first != nil {
			e, s.first = *s.first, nil
		} else {
			var err error
			e, err = w.book.Pick(s.known, true, w.skip(s))
			if errors.Is(err, addrbook.ErrNoHost) {
				continue
			}
		}
		nd, up := w.online(e.Peer)
		if !up {
			if w.book.Failed(e) != nil {
				w.book.Release(e.Peer)
			}
			continue
		}
		if err := w.book.Connected(e); err != nil {
			w.book.Release(e.Peer)
			continue
		}
		s.node, s.entry = nd, e
		w.conns[e.Peer] = nd.group
		if nd.honest {
			w.receive(nd, w.honestReply())
		} else {
			w.receive(nd, w.attackerReply(nd))
		}
	}
}

func (w *world) skip(s *slot) func(addrbook.Entry) bool {
	return func(e addrbook.Entry) bool {
		return sessions.SlotConflict(e, w.self, !w.def.Diversity, func(yield func(peer.ID, string) bool) {
			for _, o := range w.slots {
				if o == s || o.node == nil && o.first == nil {
					continue
				}
				oe := o.entry
				if o.first != nil {
					oe = *o.first
				}
				if !yield(oe.Peer, sessions.SlotGroup(oe.Addr, !w.def.Diversity)) {
					return
				}
			}
		})
	}
}

func (w *world) honestOutbound() int {
	n := 0
	for _, s := range w.slots {
		if s.node != nil && s.node.honest {
			n++
		}
	}
	return n
}

func (w *world) step(attack bool) {
	time.Sleep(15 * time.Second)
	w.churn()
	if attack {
		w.attackInbound()
	}
	w.refine()
	w.fill()
	if w.sharedNetgroup() {
		w.shared++
	}
}

// sharedNetgroup reports whether two outbound peers share a netgroup.
func (w *world) sharedNetgroup() bool {
	seen := map[string]bool{}
	for _, s := range w.slots {
		if s.node == nil {
			continue
		}
		g := addrbook.Netgroup(s.entry.Addr)
		if seen[g] {
			return true
		}
		seen[g] = true
	}
	return false
}

// restart stops the victim (hostlist saved, and the anchors if that
// defence is on) and starts it again with a new book loaded from the file.
func (w *world) restart() error {
	hostlist := filepath.Join(w.dir, "hostlist.tsv")
	anchors := filepath.Join(w.dir, "hostlist.anchors.tsv")
	if err := w.book.Save(hostlist); err != nil {
		return err
	}
	if w.def.Anchors {
		var held []addrbook.Entry
		for _, s := range w.slots {
			if s.node != nil {
				held = append(held, s.entry)
			}
		}
		if err := addrbook.SaveAnchors(anchors, held); err != nil {
			return err
		}
	}
	for _, s := range w.slots {
		s.node, s.first = nil, nil
	}
	clear(w.conns)
	w.inbound = w.inbound[:0]
	w.prompts = w.prompts[:0]
	time.Sleep(time.Minute) // down for a minute
	w.book = w.newBook(2)
	if _, err := w.book.Load(hostlist); err != nil {
		return err
	}
	if !w.def.Anchors {
		return nil
	}
	got, err := addrbook.LoadAnchors(anchors)
	if err != nil {
		return err
	}
	// As sessions.Outbound.takeAnchors: one per slot, in order.
	next := 0
	for _, e := range got.Entries {
		if next == len(w.slots) {
			break
		}
		s := w.slots[next]
		if w.skip(s)(e) || w.book.Take(e) != nil {
			continue
		}
		s.first = &e
		s.entry = e
		next++
	}
	return nil
}

// run plays one trial.
func (w *world) run() (Outcome, error) {
	// The victim first hears of the honest network from one honest node.
	boot := w.honest[0]
	w.conns[boot.entry.Peer] = boot.group
	w.book.Insert(boot.entry.Peer, w.honestReply())
	delete(w.conns, boot.entry.Peer)
	for range w.sc.WarmupSteps {
		w.step(false)
	}
	out := Outcome{MinDuringAttack: w.sc.Slots, MinAfterRestart: w.sc.Slots}
	for range w.sc.AttackSteps {
		w.step(true)
		out.MinDuringAttack = min(out.MinDuringAttack, w.honestOutbound())
	}
	out.BeforeRestart = w.honestOutbound()
	if err := w.restart(); err != nil {
		return out, err
	}
	for i := range w.sc.AfterSteps {
		w.step(true)
		if i > 0 {
			out.MinAfterRestart = min(out.MinAfterRestart, w.honestOutbound())
		}
	}
	out.AfterRestart = w.honestOutbound()
	out.SharedNetgroup = w.shared
	return out, nil
}

// worldNode is the victim's node as its book sees it: it knows the
// address each connected peer is connected from.
type worldNode struct {
	addrbook.NoNode
	w *world
}

func (n worldNode) SourceAddr(p peer.ID) ma.Multiaddr { return n.w.conns[p] }
