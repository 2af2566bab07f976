package relay

import (
	"math"
	"time"

	"github.com/dnode-p2p/dnode/relay/pb"
)

// optimizeThreshold is how many hops shorter a path an announcement
// must show before the tree moves to it.
const optimizeThreshold = 2

// incoming is a received or published message with its id, computed by
// the Relay outside its lock.
type incoming struct {
	m    *pb.Message
	id   ID
	size int // encoded frame bytes
}

// linkOf returns link id's state, adding it if a frame came first.
func (e *engine) linkOf(id linkID) *link {
	l := e.links[id]
	if l == nil {
		l = &link{id: id}
		e.links[id] = l
	}
	return l
}

// msgTime converts a wire time (unix ns) to a time, saturating.
func msgTime(ns uint64) time.Time { return time.Unix(0, int64(min(ns, math.MaxInt64))) }

// Message takes a message received on link id. It reports whether the
// message is new and must be validated (then call Accept with the
// verdict); everything else (duplicates, limits) it handles itself.
func (e *engine) Message(id linkID, in *incoming, now time.Time) (validate bool, acts []action) {
	l := e.linkOf(id)
	e.stats.bytesReceived += uint64(in.size)
	short := in.id.short()
	f := e.fetches[short]
	ent := e.store.get(in.id)
	// Answers to our own fetches are not metered: we asked for them.
	solicited := (f != nil && f.wasAsked(id)) || (ent != nil && ent.wasAsked(id))
	if solicited {
		l.answeredAt = now
	} else {
		if err := l.meter(&e.cfg, in.size, now); err != nil {
			e.dropped(dropMetering, l)
			e.violation(l, err)
			return false, e.take()
		}
	}
	if ent != nil {
		e.duplicate(l, ent, solicited, now)
		return false, e.take()
	}
	m := in.m
	reason := numDropReasons
	switch t := msgTime(m.GetTime()); {
	case int(m.GetHops())+1 > e.cfg.MaxHops:
		reason = dropHopLimit
	case !e.relays(m.GetTopic()):
		reason = dropTopic
	case t.Before(now.Add(-e.cfg.HistoryAge)) || t.After(now.Add(MaxFutureSkew)) || m.GetTime() <= e.store.floor:
		reason = dropExpired
	}
	if reason != numDropReasons {
		if f != nil {
			e.dropFetch(f)
		}
		e.dropped(reason, l)
		return false, e.take()
	}
	return true, e.take()
}

// duplicate handles a copy of a message we have, received on l. An
// unasked push means l is a tree link where it should not be: l is
// pruned from the message's tree (Plumtree's PRUNE).
func (e *engine) duplicate(l *link, ent *entry, solicited bool, now time.Time) {
	e.stats.duplicates++
	delete(l.pending, ent.short)
	if !ent.has(l.id) {
		ent.have = append(ent.have, l.id)
	}
	if solicited {
		return
	}
	if !ent.announced.IsZero() {
		// The tree's copy of a message we grafted: how late it was.
		e.sampleLag(now.Sub(ent.announced))
		ent.announced = time.Time{}
	}
	t := e.treeMap[ent.key]
	if t != nil {
		if _, eager := t.eager[l.id]; !eager {
			// Pruned already: copies it pushed before our Prune reached it.
			return
		}
		delete(t.eager, l.id)
	}
	e.sendFrame(l, &pb.Frame{Body: &pb.Frame_Prune{Prune: &pb.Prune{Ids: appendShort(nil, ent.short)}}})
	e.stats.prunes++
	e.out = append(e.out, action{kind: actTree, link: l.id, reason: "prune"})
}

// Verdict is a validator's answer, as the engine takes it.
type verdict uint8

const (
	verdictAccept verdict = iota
	verdictIgnore
	verdictReject
)

// Accept takes the verdict on a new message received on link id (after
// Message said to validate it): an accepted message is kept, delivered
// and relayed.
func (e *engine) Accept(id linkID, in *incoming, v verdict, now time.Time) []action {
	l := e.linkOf(id)
	if ent := e.store.get(in.id); ent != nil { // a copy validated at the same time
		e.duplicate(l, ent, ent.wasAsked(id), now)
		return e.take()
	}
	ent := e.newEntry(in, int(in.m.GetHops())+1, id)
	mode := fetchLazy
	if f := e.fetches[ent.short]; f != nil {
		mode = f.mode
		if f.mode == fetchLazy {
			if len(f.asked) == 0 {
				// Announced first, then came along the tree unasked.
				e.sampleLag(now.Sub(f.created))
			} else {
				ent.announced = f.created // a tree copy may still come
			}
		}
		ent.asked = f.asked
		for _, s := range f.sources {
			ent.have = append(ent.have, s.link)
		}
		ent.have = append(ent.have, f.asked...)
		e.dropFetch(f)
	}
	if !ent.has(id) {
		ent.have = append(ent.have, id)
	}
	switch v {
	case verdictReject:
		e.store.add(ent, false, now)
		e.dropped(dropValidation, l)
		if err := l.reject(&e.cfg, now); err != nil {
			e.violation(l, err)
		}
		return e.take()
	case verdictIgnore:
		e.store.add(ent, false, now)
		e.dropped(dropIgnored, l)
		return e.take()
	}
	ent.valid = true
	ent.head, ent.body = encodeMessage(in.m, ent.dist)
	e.store.add(ent, true, now)
	e.stats.received++
	if mode == fetchCatchUp {
		e.stats.caughtUp++
	}
	e.out = append(e.out, action{kind: actDeliver, msg: &delivery{id: ent.id, m: in.m, from: id}})
	e.relay(ent, l, mode == fetchCatchUp, now)
	return e.take()
}

// Publish takes a message published here (validated by the caller).
func (e *engine) Publish(in *incoming, now time.Time) []action {
	if e.store.get(in.id) != nil {
		return nil
	}
	ent := e.newEntry(in, 0, 0)
	ent.valid = true
	ent.head, ent.body = encodeMessage(in.m, 0)
	e.store.add(ent, true, now)
	e.stats.published++
	e.out = append(e.out, action{kind: actDeliver, msg: &delivery{id: ent.id, m: in.m, local: true}})
	e.relay(ent, nil, false, now)
	return e.take()
}

func (e *engine) newEntry(in *incoming, dist int, from linkID) *entry {
	m := in.m
	return &entry{
		id: in.id, short: in.id.short(),
		key:   treeKey(m.GetTopic(), string(m.GetOrigin())),
		topic: m.GetTopic(), time: m.GetTime(), size: len(m.GetData()),
		dist: dist, from: from,
	}
}

// relay sends a message that just arrived from (nil: published here) on:
// pushed on its tree's eager links and announced on the others; a large
// message, or one that came through catch-up, is only announced
// (offered).
func (e *engine) relay(ent *entry, from *link, catchUp bool, now time.Time) {
	if ent.dist >= e.cfg.MaxHops {
		return
	}
	if ent.size > e.cfg.EagerMaxSize {
		for _, l := range e.links {
			if l.ready && !ent.has(l.id) && l.accepts(ent.topic, ent.size) {
				e.sendFrame(l, &pb.Frame{Body: &pb.Frame_Offer{Offer: &pb.Offer{
					Ids: appendShort(nil, ent.short), Hops: []byte{uint8(min(ent.dist, 255))}, Sizes: []uint64{uint64(ent.size)},
				}}})
			}
		}
		return
	}
	if catchUp {
		for _, l := range e.links {
			if !ent.has(l.id) && l.accepts(ent.topic, ent.size) {
				e.announce(l, ent.short, ent.dist, now)
			}
		}
		return
	}
	t, created := e.tree(ent.key, now)
	if created {
		// A new origin (or one forgotten): every link is a tree link until
		// duplicates prune it down to a tree.
		for id, l := range e.links {
			if l.ready && l.relays(ent.topic) {
				t.eager[id] = struct{}{}
			}
		}
	}
	if from != nil {
		// The link it came on is a tree link, whatever we thought: the
		// peer pushed (or answered a graft).
		t.eager[from.id] = struct{}{}
	}
	for id, l := range e.links {
		if ent.has(id) || !l.accepts(ent.topic, ent.size) {
			continue
		}
		if _, eager := t.eager[id]; eager && l.hello {
			e.send(l, kindMessage, ent.head, ent.body)
		} else {
			e.announce(l, ent.short, ent.dist, now)
		}
	}
}
