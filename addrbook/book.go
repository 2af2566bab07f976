package addrbook

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Color names a host list. The values are DarkFi's list indices.
type Color int

// Host lists.
const (
	Grey  Color = iota // unverified
	White              // passed a refinery handshake
	Gold               // completed an outbound or direct handshake
	Black              // banned
	Dark               // not dialable by us; only propagated
)

const numColors = 5

var colorNames = [numColors]string{"grey", "white", "gold", "black", "dark"}

// String returns the colour's lower-case name.
func (c Color) String() string {
	if c >= 0 && c < numColors {
		return colorNames[c]
	}
	return fmt.Sprintf("color(%d)", int(c))
}

// ParseColor parses a colour name as String returns it.
func ParseColor(s string) (Color, error) {
	for i, n := range colorNames {
		if s == n {
			return Color(i), nil
		}
	}
	return 0, fmt.Errorf("unknown host list colour %q", s)
}

// List caps (DarkFi's; DarkFi's gold list is unbounded, ours is capped so
// that a hostlist file cannot grow it without limit).
const (
	GreyMax    = 2000
	WhiteMax   = 5000
	GoldMax    = 1000
	BlackMax   = 10000
	DarkMax    = 1000
	DarkMaxAge = 24 * time.Hour // dark entries older than this are dropped
)

var listCaps = [numColors]int{GreyMax, WhiteMax, GoldMax, BlackMax, DarkMax}

// Entry is one address in the book.
type Entry struct {
	Addr     ma.Multiaddr // full, ends in /p2p/<id>
	Peer     peer.ID
	LastSeen time.Time // second precision
}

// Node is what the book asks of the node it serves (Config.Node). Insert
// calls its methods without the book's lock held; they must be safe for
// concurrent use and must not call the Book. Embed NoNode to answer only
// some of them.
type Node interface {
	// OwnAddrs returns our listen and external addresses, never stored.
	OwnAddrs() []ma.Multiaddr
	// ManualPeers returns the manual peers, never stored.
	ManualPeers() []peer.ID
	// Refused is the gater's blacklist and ban check.
	Refused(p peer.ID, a ma.Multiaddr) bool
	// SourceAddr returns the address a source peer is connected from (nil
	// if unknown); its netgroup keys the greylist buckets of the entries
	// that peer sends.
	SourceAddr(p peer.ID) ma.Multiaddr
}

// NoNode is a Node that knows nothing: no own addresses, no manual peers,
// nothing refused, no source address known.
type NoNode struct{}

// OwnAddrs returns nil.
func (NoNode) OwnAddrs() []ma.Multiaddr { return nil }

// ManualPeers returns nil.
func (NoNode) ManualPeers() []peer.ID { return nil }

// Refused returns false.
func (NoNode) Refused(peer.ID, ma.Multiaddr) bool { return false }

// SourceAddr returns nil.
func (NoNode) SourceAddr(peer.ID) ma.Multiaddr { return nil }

// Dialer says which addresses the node can dial. The book calls it also
// with its lock held (BeginRefine): it must not call the Book.
type Dialer interface {
	Dialable(a ma.Multiaddr) bool
}

// DialableFunc adapts a function to a Dialer.
type DialableFunc func(a ma.Multiaddr) bool

// Dialable returns f(a).
func (f DialableFunc) Dialable(a ma.Multiaddr) bool { return f(a) }

// Config configures a Book. Every field is optional.
type Config struct {
	Localnet    bool         // accept local and non-global addresses
	Self        peer.ID      // our peer ID, never stored
	Seeds       []peer.ID    // never stored in any list
	Node        Node         // nil: no own addresses, manual peers or refusals; every source peer a group of its own
	Dialer      Dialer       // nil: tcp, quic-v1 and ws over ip4/ip6/dns (not onion3)
	SourceQuota int          // max Grey entries from one source; 0: GreyMax/10
	Logger      *slog.Logger // nil: discard
	// FlatGreylist keeps the greylist one list without buckets, capped
	// at GreyMax by last_seen alone (as DarkFi). Localnet implies it. For
	// comparisons such as the eclipse trial; nodes keep the buckets.
	FlatGreylist bool
	// UniformPicks makes Pick draw Gold and White entries uniformly (as
	// DarkFi) instead of netgroup first. Localnet implies it. For
	// comparisons such as the eclipse trial.
	UniformPicks bool
	// Rand, when set, drives the book's random choices and draws the
	// bucket secret, for reproducible tests and simulations. nil: a
	// random seed, and a secret from crypto/rand.
	Rand rand.Source
}

// Book is the address book. It is safe for concurrent use; one mutex
// guards the lists and the registry.
type Book struct {
	cfg Config
	log *slog.Logger

	seedMu sync.RWMutex // guards seeds alone: Insert reads them without mu
	seeds  map[peer.ID]struct{}

	mu         sync.Mutex
	lists      [numColors]*hostList
	reg        map[peer.ID]*regRecord
	srcCount   map[peer.ID]int // Grey entries attributed to each source
	buckets    *greyBuckets    // nil: a flat greylist (Localnet, FlatGreylist)
	groupPicks bool            // Gold and White picks netgroup first
	stats      InsertStats
	rng        *rand.Rand
	p2p        map[string]p2pComponent // Decode's cache, by peer ID
	permBuf    []int                   // lazyPerm's buffer
	selMark    uint64                  // the last Select's mark (item.sel)

	hookMu sync.Mutex
	hooks  []func(n int)

	saveMu sync.Mutex // serialises Save and Load's file writes
	// lastSaved is what the file at lastPath holds, as far as the book
	// knows (written by Save, read by Load); nil when unknown. saveMu.
	lastSaved *[sha256.Size]byte
	lastPath  string
}

// New returns an empty Book.
func New(cfg Config) *Book {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dialer == nil {
		cfg.Dialer = DialableFunc(defaultDialable)
	}
	if cfg.SourceQuota <= 0 {
		cfg.SourceQuota = GreyMax / 10
	}
	b := &Book{
		cfg:      cfg,
		log:      cfg.Logger,
		seeds:    make(map[peer.ID]struct{}, len(cfg.Seeds)),
		reg:      make(map[peer.ID]*regRecord),
		srcCount: make(map[peer.ID]int),
		stats:    InsertStats{Filtered: make(map[string]uint64)},
	}
	if cfg.Rand != nil {
		b.rng = rand.New(cfg.Rand)
	} else {
		b.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	b.groupPicks = !cfg.Localnet && !cfg.UniformPicks
	if !cfg.Localnet && !cfg.FlatGreylist {
		var secretRNG *rand.Rand
		if cfg.Rand != nil {
			secretRNG = b.rng
		}
		b.buckets = newGreyBuckets(secretRNG)
	}
	for _, s := range cfg.Seeds {
		b.seeds[s] = struct{}{}
	}
	for c := range b.lists {
		b.lists[c] = newHostList(listCaps[c])
	}
	return b
}

// Len returns the number of entries in list c.
func (b *Book) Len(c Color) int {
	if c < 0 || c >= numColors {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lists[c].len()
}

// Entries returns a copy of list c, sorted by LastSeen descending.
func (b *Book) Entries(c Color) []Entry {
	if c < 0 || c >= numColors {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lists[c].entries()
}

// Contains reports whether p has an entry, and in which list: Black,
// Gold, White, Grey or Dark, checked in that order.
func (b *Book) Contains(p peer.ID) (Color, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range [...]Color{Black, Gold, White, Grey, Dark} {
		if b.lists[c].hasPeer(p) {
			return c, true
		}
	}
	return 0, false
}

// nowUnix is the current time in whole seconds.
func (b *Book) nowUnix() int64 { return time.Now().Unix() }

// addLocked stores it in list c, keeping the Grey source counts and
// buckets. A Grey item whose bucket is full of newer entries is not
// stored.
func (b *Book) addLocked(c Color, it *item) {
	if c != Grey {
		it.src, it.srcGroup = "", ""
	} else {
		if b.buckets != nil && !b.admitGreyLocked(it) {
			return
		}
		if it.src != "" {
			b.srcCount[it.src]++
		}
	}
	for _, ev := range b.lists[c].add(it) {
		b.droppedLocked(c, ev)
	}
}

// removeLocked deletes key from list c and returns the item, or nil.
func (b *Book) removeLocked(c Color, key string) *item {
	it := b.lists[c].remove(key)
	if it != nil {
		b.droppedLocked(c, it)
	}
	return it
}

// removePeerLocked deletes every entry of p from list c.
func (b *Book) removePeerLocked(c Color, p peer.ID) []*item {
	its := b.lists[c].removePeer(p)
	for _, it := range its {
		b.droppedLocked(c, it)
	}
	return its
}

// droppedLocked keeps the accounting for an item that left list c.
func (b *Book) droppedLocked(c Color, it *item) {
	if c != Grey {
		return
	}
	if b.buckets != nil {
		b.buckets.remove(it)
	}
	if it.src != "" {
		if n := b.srcCount[it.src] - 1; n > 0 {
			b.srcCount[it.src] = n
		} else {
			delete(b.srcCount, it.src)
		}
	}
}

// refreshDarkLocked drops dark entries older than DarkMaxAge.
func (b *Book) refreshDarkLocked(now int64) {
	for _, it := range b.lists[Dark].trimOlder(now - int64(DarkMaxAge/time.Second)) {
		b.droppedLocked(Dark, it)
	}
}

// moveLocked moves every entry of peer e.Peer found in the lists from
// into list to, and stores e itself there if it is missing. If setTS, e's
// entry gets LastSeen ts; otherwise it keeps its stored LastSeen (or ts
// when it was not stored).
//
// Entries that stay in Grey (Grey to Grey, as after a failed dial of a
// greylist host) keep their source, so that they count against the same
// quota and bucket as before; entries moved into Grey from White or Gold
// have none (we verified them ourselves).
func (b *Book) moveLocked(e *item, from []Color, to Color, ts int64, setTS bool) {
	var moved []*item
	for _, c := range from {
		for _, it := range b.removePeerLocked(c, e.peer) {
			if c != Grey || to != Grey {
				it.src, it.srcGroup = "", ""
			}
			moved = append(moved, it)
		}
	}
	if old := b.removeLocked(to, e.key); old != nil {
		moved = append(moved, old)
	}
	found := false
	for _, it := range moved {
		if it.key == e.key {
			found = true
			if setTS {
				it.ts = ts
			}
		}
		if b.lists[to].get(it.key) == nil {
			b.addLocked(to, it)
		}
	}
	if !found {
		b.addLocked(to, &item{addr: e.addr, peer: e.peer, key: e.key, ts: ts})
	}
}

// randN returns a random int in [0, n); b.mu must be held.
func (b *Book) randN(n int) int { return b.rng.IntN(n) }
