package addrbook

// lazyPerm draws the indexes 0..n-1 in a uniformly random order, one
// Fisher–Yates step per draw, so that a caller that stops after k draws
// pays O(k) random numbers instead of the n of rand.Perm (Select takes
// tens of entries from lists of thousands). Its buffer is the Book's
// (permBuf) and its random source the Book's: use it with b.mu held, and
// one at a time.
type lazyPerm struct {
	b   *Book
	idx []int
	k   int
}

// permLocked returns a lazyPerm over n indexes; b.mu must be held, and
// the previous lazyPerm is invalidated.
func (b *Book) permLocked(n int) lazyPerm {
	if cap(b.permBuf) < n {
		b.permBuf = make([]int, n)
	}
	idx := b.permBuf[:n]
	for i := range idx {
		idx[i] = i
	}
	return lazyPerm{b: b, idx: idx}
}

// next returns the next index, or false when all n were drawn.
func (p *lazyPerm) next() (int, bool) {
	if p.k >= len(p.idx) {
		return 0, false
	}
	j := p.k + p.b.randN(len(p.idx)-p.k)
	p.idx[p.k], p.idx[j] = p.idx[j], p.idx[p.k]
	i := p.idx[p.k]
	p.k++
	return i, true
}
