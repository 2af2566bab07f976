package relay

import (
	"fmt"
	"time"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/relay/pb"
)

// Frame takes a frame other than a Message received on link id, of
// size encoded bytes.
func (e *engine) Frame(id linkID, f *pb.Frame, size int, now time.Time) []action {
	l := e.linkOf(id)
	e.stats.bytesReceived += uint64(size)
	if err := l.meter(&e.cfg, size, now); err != nil {
		e.dropped(dropMetering, l)
		e.violation(l, err)
		return e.take()
	}
	var err error
	switch b := f.GetBody().(type) {
	case *pb.Frame_Hello:
		err = e.hello(l, b.Hello)
	case *pb.Frame_Ihave:
		err = e.ihave(l, b.Ihave, now)
	case *pb.Frame_Offer:
		err = e.offer(l, b.Offer, now)
	case *pb.Frame_Iwant:
		err = e.iwant(l, b.Iwant, now)
	case *pb.Frame_Graft:
		err = e.graft(l, b.Graft, now)
	case *pb.Frame_Prune:
		err = e.prune(l, b.Prune)
	case *pb.Frame_Digest:
		err = e.digest(l, b.Digest, now)
	default:
		err = malformed("frame with no known body")
	}
	if err != nil {
		e.dropped(dropMalformed, l)
		e.violation(l, err)
	}
	return e.take()
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: relay: %s", channel.ErrViolation, fmt.Sprintf(format, args...))
}

// ids decodes a field of concatenated short ids.
func ids(field string, b []byte) ([]uint64, error) {
	s, ok := shorts(b, MaxDigest)
	if !ok {
		return nil, malformed("%s: %d bytes is not a list of at most %d short ids", field, len(b), MaxDigest)
	}
	return s, nil
}

func (e *engine) hello(l *link, h *pb.Hello) error {
	if len(h.GetTopics()) > MaxDigest {
		return malformed("hello: %d topics", len(h.GetTopics()))
	}
	var topics map[string]bool
	for _, t := range h.GetTopics() {
		if err := checkTopic(t); err != nil {
			return malformed("hello: %v", err)
		}
		if topics == nil {
			topics = make(map[string]bool)
		}
		topics[t] = true
	}
	l.hello = true
	l.topics = topics
	l.maxSize = DefaultMaxMessageSize
	if m := h.GetMaxMessageSize(); m > 0 {
		l.maxSize = int(min(m, maxAbsoluteMessage))
	}
	return nil
}

func (e *engine) ihave(l *link, ih *pb.IHave, now time.Time) error {
	list, err := ids("ihave", ih.GetIds())
	if err != nil {
		return err
	}
	if len(ih.GetHops()) != len(list) {
		return malformed("ihave: %d hops for %d ids", len(ih.GetHops()), len(list))
	}
	for i, s := range list {
		dist := int(ih.GetHops()[i])
		delete(l.pending, s)
		if ent := e.store.byShort(s); ent != nil {
			if !ent.has(l.id) {
				ent.have = append(ent.have, l.id)
			}
			e.optimize(l, ent, dist)
			continue
		}
		e.want(l, s, dist, fetchLazy, 0, now)
	}
	return nil
}

// optimize moves ent's tree to l when l's announcement shows a path at
// least optimizeThreshold hops shorter than the one the message took
// (Plumtree's optimisation): l is grafted (join), the old parent pruned.
func (e *engine) optimize(l *link, ent *entry, dist int) {
	if !ent.valid || ent.from == 0 || ent.from == l.id || ent.size > e.cfg.EagerMaxSize {
		return
	}
	if dist+1+optimizeThreshold > ent.dist {
		return
	}
	t := e.treeMap[ent.key]
	parent := e.links[ent.from]
	if t == nil || parent == nil {
		return
	}
	if _, ok := t.eager[ent.from]; !ok {
		return
	}
	t.eager[l.id] = struct{}{}
	delete(t.eager, ent.from)
	e.sendFrame(l, &pb.Frame{Body: &pb.Frame_Graft{Graft: &pb.Graft{Join: appendShort(nil, ent.short)}}})
	e.sendFrame(parent, &pb.Frame{Body: &pb.Frame_Prune{Prune: &pb.Prune{Ids: appendShort(nil, ent.short)}}})
	ent.from, ent.dist = l.id, dist+1
	e.stats.optimized++
	e.out = append(e.out, action{kind: actTree, link: l.id, reason: "graft"}, action{kind: actTree, link: parent.id, reason: "prune"})
}

func (e *engine) offer(l *link, of *pb.Offer, now time.Time) error {
	list, err := ids("offer", of.GetIds())
	if err != nil {
		return err
	}
	if len(of.GetHops()) != len(list) || len(of.GetSizes()) != len(list) {
		return malformed("offer: %d hops and %d sizes for %d ids", len(of.GetHops()), len(of.GetSizes()), len(list))
	}
	for i, s := range list {
		delete(l.pending, s)
		if ent := e.store.byShort(s); ent != nil {
			if !ent.has(l.id) {
				ent.have = append(ent.have, l.id)
			}
			continue
		}
		size := of.GetSizes()[i]
		if size > uint64(e.cfg.MaxMessageSize) {
			e.dropped(dropTooLarge, l)
			continue
		}
		e.want(l, s, int(of.GetHops()[i]), fetchNow, int(size), now)
	}
	return nil
}

// serve sends the messages named in list on l, if we have them; a miss
// counts against l.
func (e *engine) serve(l *link, list []uint64, now time.Time) {
	for _, s := range list {
		ent := e.store.byShort(s)
		if ent == nil || ent.head == nil {
			e.dropped(dropUnknown, l)
			if err := l.miss(&e.cfg, now); err != nil {
				e.violation(l, err)
				return
			}
			continue
		}
		if !ent.has(l.id) {
			ent.have = append(ent.have, l.id)
		}
		if l.accepts(ent.topic, ent.size) {
			e.send(l, kindMessage, ent.head, ent.body)
		}
	}
}

func (e *engine) iwant(l *link, iw *pb.IWant, now time.Time) error {
	list, err := ids("iwant", iw.GetIds())
	if err != nil {
		return err
	}
	e.serve(l, list, now)
	return nil
}

func (e *engine) graft(l *link, g *pb.Graft, now time.Time) error {
	fetch, err := ids("graft fetch", g.GetFetch())
	if err != nil {
		return err
	}
	join, err := ids("graft join", g.GetJoin())
	if err != nil {
		return err
	}
	for _, s := range append(join, fetch...) {
		if ent := e.store.byShort(s); ent != nil && ent.size <= e.cfg.EagerMaxSize {
			t, _ := e.tree(ent.key, now) // a new tree starts with l alone
			t.eager[l.id] = struct{}{}
			e.out = append(e.out, action{kind: actTree, link: l.id, reason: "graft"})
		}
	}
	e.serve(l, fetch, now)
	return nil
}

func (e *engine) prune(l *link, p *pb.Prune) error {
	list, err := ids("prune", p.GetIds())
	if err != nil {
		return err
	}
	for _, s := range list {
		if ent := e.store.byShort(s); ent != nil {
			if t := e.treeMap[ent.key]; t != nil {
				delete(t.eager, l.id)
			}
		}
	}
	return nil
}

// digest takes a peer's list of recent messages and asks, in one IWant,
// for those we neither have nor are fetching.
func (e *engine) digest(l *link, d *pb.Digest, now time.Time) error {
	list, err := ids("digest", d.GetIds())
	if err != nil {
		return err
	}
	var ask []uint64
	for _, s := range list {
		if ent := e.store.byShort(s); ent != nil {
			if !ent.has(l.id) {
				ent.have = append(ent.have, l.id)
			}
			continue
		}
		if f := e.fetches[s]; f != nil {
			e.want(l, s, 0, fetchCatchUp, 0, now)
			continue
		}
		if !e.want(l, s, 0, fetchCatchUp, 0, now) {
			continue
		}
		ask = append(ask, s)
	}
	if len(ask) == 0 {
		return nil
	}
	// One deadline for the batch; while the peer keeps answering it is
	// extended (fetchTimeout).
	deadline := now.Add(l.fetchTimeout(0) + time.Duration(len(ask))*time.Millisecond)
	for _, s := range ask {
		f := e.fetches[s]
		f.sources = nil
		l.fetches--
		f.asked = []linkID{l.id}
		f.askedAt = now
		f.deadline = deadline
	}
	e.schedule(deadline, timerFetch, ask[0])
	for _, s := range ask[1:] {
		e.schedule(deadline, timerFetch, s)
	}
	e.sendIWant(l, ask)
	e.stats.fetches += uint64(len(ask))
	return nil
}
