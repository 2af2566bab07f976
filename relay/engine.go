package relay

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/relay/pb"
)

// engine is the relay protocol as a state machine: the epidemic
// broadcast tree (one tree per topic and origin), announcements, fetches,
// the history and catch-up, the limits. It does no I/O and reads no
// clock: every input carries the time, and every output is an action
// for the Relay to carry out. It is not safe for concurrent use; the
// Relay serialises calls under its lock.
type engine struct {
	cfg     Config
	topics  map[string]bool // Config.Topics as a set; nil: every topic
	links   map[linkID]*link
	treeMap map[string]*tree
	store   *store
	fetches map[uint64]*fetch
	timers  timerHeap
	asks    map[linkID]*askBatch // fetch requests waiting for sendAsks
	lag     time.Duration        // recent tree lag (see graftTimeout)
	stats   counters
	out     []action
}

// actionKind says what an action asks the Relay to do.
type actionKind uint8

const (
	actSend      actionKind = iota // send data (an encoded Frame) on link
	actDeliver                     // hand msg to the topic's subscribers
	actViolation                   // the peer of link broke the protocol: err
	actDrop                        // a message was dropped for reason (for events)
	actTree                        // link joined (graft) or left (prune) a tree
)

// action is one output of the engine.
type action struct {
	kind   actionKind
	link   linkID
	data   []byte // actSend: the frame, or its head when tail is set
	tail   []byte // actSend: the rest of the frame (a message's data)
	msg    *delivery
	err    error
	reason string
}

// delivery is a message accepted here, for the subscribers.
type delivery struct {
	id    ID
	m     *pb.Message
	from  linkID // 0 when published here
	local bool
}

func newEngine(cfg Config) *engine {
	e := &engine{
		cfg:     cfg,
		links:   make(map[linkID]*link),
		treeMap: make(map[string]*tree),
		store:   newStore(cfg),
		fetches: make(map[uint64]*fetch),
		asks:    make(map[linkID]*askBatch),
	}
	if len(cfg.Topics) > 0 {
		e.topics = make(map[string]bool, len(cfg.Topics))
		for _, t := range cfg.Topics {
			e.topics[t] = true
		}
	}
	e.stats.init()
	return e
}

// take returns the actions gathered since the last call, after sending
// the fetch requests queued meanwhile.
func (e *engine) take() []action {
	if len(e.asks) > 0 {
		e.sendAsks()
	}
	out := e.out
	e.out = nil
	return out
}

// relays reports whether this node relays topic.
func (e *engine) relays(topic string) bool { return e.topics == nil || e.topics[topic] }

// AddLink registers a channel's link; frames may arrive on it at once,
// but nothing is sent before StartLink.
func (e *engine) AddLink(id linkID) {
	if e.links[id] == nil {
		e.links[id] = &link{id: id}
	}
}

// StartLink sends our Hello and a Digest of the recent history on link
// id, and lets frames go out on it from now on.
func (e *engine) StartLink(id linkID, rtt time.Duration, now time.Time) []action {
	e.AddLink(id)
	l := e.links[id]
	l.rtt = rtt
	if l.ready {
		return nil
	}
	l.ready = true
	e.sendFrame(l, &pb.Frame{Body: &pb.Frame_Hello{Hello: &pb.Hello{
		Topics: e.cfg.Topics, MaxMessageSize: uint64(e.cfg.MaxMessageSize),
	}}})
	if ids := e.store.recent(now.Add(-e.cfg.HistoryAge), MaxDigest); len(ids) > 0 {
		e.sendFrame(l, &pb.Frame{Body: &pb.Frame_Digest{Digest: &pb.Digest{Ids: packShorts(ids)}}})
		e.stats.digestsSent++
	}
	return e.take()
}

// RemoveLink forgets link id: it leaves every tree, and fetches stop
// counting on it.
func (e *engine) RemoveLink(id linkID) {
	l := e.links[id]
	if l == nil {
		return
	}
	delete(e.links, id)
	for _, t := range e.treeMap {
		delete(t.eager, id)
	}
	_ = l
	// Sources on the link are skipped when asked (ask finds no link).
}

// SetRTT records link id's ping RTT, for its timeouts.
func (e *engine) SetRTT(id linkID, rtt time.Duration) {
	if l := e.links[id]; l != nil && rtt > 0 {
		l.rtt = rtt
	}
}

// violation reports that l's peer broke the protocol.
func (e *engine) violation(l *link, err error) {
	e.out = append(e.out, action{kind: actViolation, link: l.id, err: err})
}

// dropped counts a dropped message and reports it for events.
func (e *engine) dropped(reason dropReason, l *link) {
	e.stats.drop(reason)
	a := action{kind: actDrop, reason: reason.String()}
	if l != nil {
		a.link = l.id
	}
	e.out = append(e.out, a)
}

// send queues an encoded frame of kind k, data then tail, on l, after
// l's pending IHave batch, which leaves with it.
func (e *engine) send(l *link, k frameKind, data, tail []byte) {
	if !l.ready {
		return
	}
	if len(l.pending) > 0 {
		e.flush(l)
	}
	size := uint64(len(data) + len(tail))
	e.stats.bytesSent += size
	e.stats.framesSent[k]++
	e.stats.frameBytesSent[k] += size
	e.out = append(e.out, action{kind: actSend, link: l.id, data: data, tail: tail})
}

// sendFrame encodes f and sends it on l.
func (e *engine) sendFrame(l *link, f *pb.Frame) {
	data, err := proto.Marshal(f)
	if err != nil {
		return // our own frames always encode
	}
	e.send(l, kindOf(f), data, nil)
}

func kindOf(f *pb.Frame) frameKind {
	switch f.GetBody().(type) {
	case *pb.Frame_Hello:
		return kindHello
	case *pb.Frame_Message:
		return kindMessage
	case *pb.Frame_Ihave:
		return kindIHave
	case *pb.Frame_Offer:
		return kindOffer
	case *pb.Frame_Iwant:
		return kindIWant
	case *pb.Frame_Graft:
		return kindGraft
	case *pb.Frame_Prune:
		return kindPrune
	}
	return kindDigest
}

func (e *engine) sendIWant(l *link, ids []uint64) {
	for len(ids) > 0 {
		n := min(len(ids), MaxDigest)
		e.sendFrame(l, &pb.Frame{Body: &pb.Frame_Iwant{Iwant: &pb.IWant{Ids: packShorts(ids[:n])}}})
		ids = ids[n:]
	}
}

// announce adds short (at our distance dist) to l's IHave batch, which
// leaves within LazyInterval.
func (e *engine) announce(l *link, short uint64, dist int, now time.Time) {
	if !l.ready {
		return
	}
	if l.pending == nil {
		l.pending = make(map[uint64]uint8, 64)
	}
	l.pending[short] = uint8(min(dist, 255))
	if l.flushAt.IsZero() {
		l.flushAt = now.Add(e.cfg.LazyInterval)
		e.schedule(l.flushAt, timerFlush, uint64(l.id))
	}
}

// flush sends l's IHave batch now.
func (e *engine) flush(l *link) {
	// The map is kept (cleared) for the next batch: a busy link's batch
	// is about the same size every interval.
	pending := l.pending
	l.pending, l.flushAt = nil, time.Time{} // sending must not flush again
	ih := &pb.IHave{}
	for s, h := range pending {
		if ih.Ids == nil {
			k := min(len(pending), MaxDigest)
			ih.Ids, ih.Hops = make([]byte, 0, k*shortLen), make([]byte, 0, k)
		}
		ih.Ids = appendShort(ih.Ids, s)
		ih.Hops = append(ih.Hops, h)
		if len(ih.Hops) == MaxDigest {
			e.sendIHave(l, ih)
			ih = &pb.IHave{}
		}
	}
	if len(ih.Hops) > 0 {
		e.sendIHave(l, ih)
	}
	clear(pending)
	l.pending = pending
}

func (e *engine) sendIHave(l *link, ih *pb.IHave) {
	e.stats.announced += uint64(len(ih.Hops))
	e.sendFrame(l, &pb.Frame{Body: &pb.Frame_Ihave{Ihave: ih}})
}

func packShorts(ids []uint64) []byte {
	b := make([]byte, 0, len(ids)*shortLen)
	for _, s := range ids {
		b = appendShort(b, s)
	}
	return b
}
