package addrbook

import "github.com/libp2p/go-libp2p/core/peer"

// AddSeed makes p a seed at run time, as if it were in Config.Seeds: its
// entries leave the Grey, White, Gold and Dark lists (a Black entry, a
// ban, stays) and Insert drops its addresses from then on. Being a seed
// never blacklists a peer. It reports whether p was not a seed already.
// Safe for concurrent use.
func (b *Book) AddSeed(p peer.ID) bool {
	b.seedMu.Lock()
	if has(b.seeds, p) {
		b.seedMu.Unlock()
		return false
	}
	b.seeds[p] = struct{}{}
	b.seedMu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range [...]Color{Grey, White, Gold, Dark} {
		b.removePeerLocked(c, p)
	}
	return true
}

// RemoveSeed makes p an ordinary peer again: its addresses may enter the
// lists from then on. It reports whether p was a seed. Safe for
// concurrent use.
func (b *Book) RemoveSeed(p peer.ID) bool {
	b.seedMu.Lock()
	defer b.seedMu.Unlock()
	if !has(b.seeds, p) {
		return false
	}
	delete(b.seeds, p)
	return true
}

// IsSeed reports whether p is a seed (Config.Seeds or AddSeed).
func (b *Book) IsSeed(p peer.ID) bool { return b.isSeed(p) }
