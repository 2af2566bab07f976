package addrbook

// Pick selects a host to dial and takes it: the chosen peer moves to the
// Connect state atomically, so two callers never get the same peer until
// it is released (Connected, Failed, Disconnected or Release).
//
// known=true tries a random Gold entry, then a random White one, then
// (if allowGrey) a random Grey one; known=false tries Grey first (only if
// allowGrey), then Gold, then White. A caller wanting DarkFi's 70 % known
// share passes known=true for that share of its slots. Entries for which
// skip returns true, and entries whose peer cannot enter Connect (it is
// not Free), are ignored. skip is called with the book's lock held and
// must not call the Book. Pick returns ErrNoHost when nothing fits.
// Unless Localnet or UniformPicks, Gold and White entries are drawn
// netgroup first (a random netgroup, then a random entry of it), and Grey
// ones bucket first when the greylist has buckets (see the package doc);
// otherwise entries are drawn uniformly, as in DarkFi.
func (b *Book) Pick(known, allowGrey bool, skip func(Entry) bool) (Entry, error) {
	order := make([]Color, 0, 3)
	if known {
		order = append(order, Gold, White)
		if allowGrey {
			order = append(order, Grey)
		}
	} else {
		if allowGrey {
			order = append(order, Grey)
		}
		order = append(order, Gold, White)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range order {
		it := b.randomLocked(c, func(it *item) bool {
			return allowed(b.stateLocked(it.peer), Connect) && (skip == nil || !skip(it.entry()))
		})
		if it != nil {
			b.setStateLocked(it.peer, Connect)
			return it.entry(), nil
		}
	}
	return Entry{}, ErrNoHost
}

// randomLocked returns a uniformly random item of list c for which ok
// holds, or nil. It tries a few random positions first, then walks a
// random permutation of the whole list. A bucketed Grey list is picked
// bucket first (see randomBucketedLocked), White and Gold netgroup first
// unless the book picks uniformly (randomByGroupLocked).
func (b *Book) randomLocked(c Color, ok func(*item) bool) *item {
	switch {
	case c == Grey && b.buckets != nil:
		return b.randomBucketedLocked(ok)
	case (c == White || c == Gold) && b.groupPicks:
		return b.randomByGroupLocked(c, ok)
	}
	items := b.lists[c].items
	n := len(items)
	if n == 0 {
		return nil
	}
	for range 16 {
		if it := items[b.randN(n)]; ok(it) {
			return it
		}
	}
	for _, i := range b.rng.Perm(n) {
		if it := items[i]; ok(it) {
			return it
		}
	}
	return nil
}

// randomByGroupLocked returns a random item of list c for which ok holds,
// choosing a random netgroup first and then a random item of it, so that
// every netgroup weighs the same however many hosts (or identities) it
// holds; groups none of whose items pass ok are passed over.
func (b *Book) randomByGroupLocked(c Color, ok func(*item) bool) *item {
	groups := b.lists[c].groups
	for _, i := range b.rng.Perm(len(groups)) {
		its := groups[i].items
		start := b.randN(len(its))
		for k := range its {
			if it := its[(start+k)%len(its)]; ok(it) {
				return it
			}
		}
	}
	return nil
}
