package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/protocols"
	"github.com/dnode-p2p/dnode/relay/pb"
)

// Protocol name and version: the stream protocol is
// /dnode/<network>/relay/1.0.0.
const (
	Name           = "relay"
	ProtocolSemver = "1.0.0"
)

// Relay carries messages to every node of the network along epidemic
// broadcast trees (see the package doc). Make one per node with New
// before the node starts; it lives as long as the node value and
// survives the node's restarts (its history too). Its methods are safe
// for concurrent use.
type Relay struct {
	node   *dnode.Node
	useful usefulTagger
	cfg    Config
	spec   *channel.Spec
	log    *slog.Logger
	events *events.Bus

	mu         sync.Mutex
	eng        *engine
	chans      map[linkID]*channel.Channel
	topics     map[string]*Topic
	validators map[string]Validator
	lastTime   uint64 // time of our last message, unix ns
	timer      *time.Timer
	timerAt    time.Time // when timer fires (zero: not armed)
	closed     bool
}

// usefulTagger hears which peers deliver messages new to us; the node
// (dnode.Node.TagUseful) keeps them from inbound eviction.
type usefulTagger interface {
	// TagUseful records that p just delivered a new, accepted message.
	// It must not block.
	TagUseful(p peer.ID)
}

// New returns a Relay for n with cfg (zero fields take defaults) and
// registers its protocol on n's registry, which must happen before n
// starts. It fails on a bad cfg (ErrConfig) or when the registration
// fails (the node is running, or a relay is already registered).
func New(n *dnode.Node, cfg Config, log *slog.Logger) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Relay{
		node:       n,
		useful:     n,
		cfg:        cfg,
		spec:       channel.NewSpec(Name, ProtocolSemver, &pb.Frame{}, cfg.MaxMessageSize+frameSlack, channel.Metering{}),
		log:        log,
		events:     n.Events(),
		eng:        newEngine(cfg),
		chans:      make(map[linkID]*channel.Channel),
		topics:     make(map[string]*Topic),
		validators: make(map[string]Validator),
	}
	err := n.Registry().Register(protocols.Registration{
		Name:     Name,
		Sessions: channel.Default,
		Specs:    []*channel.Spec{r.spec},
		New:      r.attach,
	})
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	return r, nil
}

// Spec returns the relay stream's Spec.
func (r *Relay) Spec() *channel.Spec { return r.spec }

// Config returns the relay's configuration with defaults applied.
func (r *Relay) Config() Config { return r.cfg }

// Join returns the handle of topic (the same one on every call). It
// fails for an invalid name, or a topic outside Config.Topics when that
// list is set (both wrap ErrTopic).
func (r *Relay) Join(topic string) (*Topic, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	if !r.eng.relays(topic) {
		return nil, fmt.Errorf("%w: %q is not in relay.topics", ErrTopic, topic)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	t := r.topics[topic]
	if t == nil {
		t = &Topic{r: r, name: topic, subs: make(map[*Subscription]struct{})}
		r.topics[topic] = t
	}
	return t, nil
}

// Publish is Join(topic) then Publish(ctx, data).
func (r *Relay) Publish(ctx context.Context, topic string, data []byte) (ID, error) {
	t, err := r.Join(topic)
	if err != nil {
		return ID{}, err
	}
	return t.Publish(ctx, data)
}

// SetValidator sets topic's validator (nil removes it). Messages of a
// topic without one are accepted.
func (r *Relay) SetValidator(topic string, v Validator) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v == nil {
		delete(r.validators, topic)
	} else {
		r.validators[topic] = v
	}
	return nil
}

func (r *Relay) validator(topic string) Validator {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.validators[topic]
}

// Stats returns the relay's counters.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.eng.snapshot()
}

// Close cancels every subscription and stops the relay's timer; the
// relay then refuses Join, Subscribe and Publish but keeps answering
// its peers until the node stops. It is idempotent.
func (r *Relay) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	var subs []*Subscription
	for _, t := range r.topics {
		for s := range t.subs {
			subs = append(subs, s)
		}
	}
	if r.timer != nil {
		r.timer.Stop()
		r.timerAt = time.Time{}
	}
	r.mu.Unlock()
	for _, s := range subs {
		s.Cancel()
	}
}

func (r *Relay) unsubscribe(s *Subscription) {
	r.mu.Lock()
	delete(s.topic.subs, s)
	r.mu.Unlock()
}

// attach is the protocol constructor: it runs for each new channel
// before its handshake.
func (r *Relay) attach(ch *channel.Channel) (protocols.Protocol, error) {
	id := linkID(ch.ID())
	r.mu.Lock()
	r.chans[id] = ch
	r.eng.AddLink(id)
	r.mu.Unlock()
	ch.OnStop(func() { r.detach(id) })
	// Frames are decoded here, so that a large message's data stays
	// the buffer it was read into (decodeFrame).
	ch.HandleRaw(r.spec, func(raw []byte, owned bool) error {
		f, err := decodeFrame(raw, owned)
		if err != nil {
			r.mu.Lock()
			r.eng.stats.bytesReceived += uint64(len(raw))
			r.eng.dropped(dropMalformed, r.eng.linkOf(id))
			post := r.execLocked(r.eng.take(), time.Now())
			r.mu.Unlock()
			post.run()
			return fmt.Errorf("%w: %w", channel.ErrViolation, err)
		}
		return r.receive(ch, id, f, len(raw))
	})
	return linkProtocol{r: r, ch: ch}, nil
}

// linkProtocol starts the relay on a channel once its handshake is done.
type linkProtocol struct {
	r  *Relay
	ch *channel.Channel
}

func (p linkProtocol) Start(context.Context) error {
	r, id := p.r, linkID(p.ch.ID())
	if !p.ch.PeerRuns(r.spec) {
		r.detach(id) // the peer does not relay: not a link
		return nil
	}
	now := time.Now()
	r.mu.Lock()
	if _, ok := r.chans[id]; !ok { // stopped already
		r.mu.Unlock()
		return nil
	}
	post := r.execLocked(r.eng.StartLink(id, p.ch.RTT(), now), now)
	r.mu.Unlock()
	post.run()
	return nil
}

// detach forgets a stopped channel.
func (r *Relay) detach(id linkID) {
	r.mu.Lock()
	delete(r.chans, id)
	r.eng.RemoveLink(id)
	r.armLocked()
	r.mu.Unlock()
}

// receive handles one frame read from ch, on its reader goroutine. An
// error stops the channel (a violation goes through the ban policy).
func (r *Relay) receive(ch *channel.Channel, id linkID, f *pb.Frame, size int) error {
	now := time.Now()
	m := f.GetMessage()
	if m == nil {
		r.mu.Lock()
		r.eng.SetRTT(id, ch.RTT())
		post := r.execLocked(r.eng.Frame(id, f, size, now), now)
		r.mu.Unlock()
		post.run()
		return nil
	}
	origin, err := r.check(m)
	if err != nil {
		r.mu.Lock()
		reason := dropMalformed
		if errors.Is(err, ErrTooLarge) {
			reason = dropTooLarge
		}
		r.eng.stats.bytesReceived += uint64(size)
		r.eng.dropped(reason, r.eng.linkOf(id))
		r.execLocked(r.eng.take(), now)
		r.mu.Unlock()
		return fmt.Errorf("%w: %w", channel.ErrViolation, err)
	}
	in := &incoming{m: m, id: MessageID(m.GetTopic(), m.GetOrigin(), m.GetTime(), m.GetData()), size: size}
	r.mu.Lock()
	r.eng.SetRTT(id, ch.RTT())
	validate, acts := r.eng.Message(id, in, now)
	post := r.execLocked(acts, now)
	v := r.validators[m.GetTopic()]
	r.mu.Unlock()
	post.run()
	if !validate {
		return nil
	}
	verdict := verdictAccept
	if v != nil {
		switch v(ch.Context(), ch.Peer(), r.messageFrom(in, origin, ch.Peer(), now)) {
		case ValidationAccept:
		case ValidationIgnore:
			verdict = verdictIgnore
		default:
			verdict = verdictReject
		}
	}
	r.mu.Lock()
	post = r.execLocked(r.eng.Accept(id, in, verdict, now), now)
	r.mu.Unlock()
	post.run()
	return nil
}

// check validates a received message's fields and returns its origin.
func (r *Relay) check(m *pb.Message) (peer.ID, error) {
	if err := checkTopic(m.GetTopic()); err != nil {
		return "", err
	}
	origin, err := peer.IDFromBytes(m.GetOrigin())
	if err != nil {
		return "", fmt.Errorf("relay: bad origin: %w", err)
	}
	if len(m.GetData()) > r.cfg.MaxMessageSize {
		return "", fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(m.GetData()), r.cfg.MaxMessageSize)
	}
	if len(m.GetData()) == 0 {
		return "", ErrEmpty
	}
	return origin, nil
}

// message builds the Message of in for subscribers and validators.
func (r *Relay) message(in *incoming, self peer.ID, now time.Time, local bool) *Message {
	m := r.messageFrom(in, self, self, now)
	m.Local, m.Hops = local, 0
	return m
}

func (r *Relay) messageFrom(in *incoming, origin, from peer.ID, now time.Time) *Message {
	return &Message{
		ID: in.id, Topic: in.m.GetTopic(), Origin: origin, Data: in.m.GetData(),
		Time: msgTime(in.m.GetTime()), Hops: int(in.m.GetHops()) + 1, ReceivedFrom: from, Received: now,
	}
}

// after is what execLocked leaves for after r.mu is released:
// violations to report (stopping a channel calls back into detach) and
// topic handlers to call (they may call the relay).
type after struct {
	bans  []ban
	calls []handlerCall
}

type handlerCall struct {
	h Handler
	m *Message
}

// run reports the violations and calls the handlers; r.mu is not held.
func (a after) run() {
	for _, b := range a.bans {
		b.ch.Ban(b.err)
	}
	for _, c := range a.calls {
		c.h(c.m)
	}
}

// execLocked carries out the engine's actions; r.mu is held. Sends and
// deliveries never block; what must wait for r.mu's release is returned.
func (r *Relay) execLocked(acts []action, now time.Time) after {
	var post after
	for _, a := range acts {
		switch a.kind {
		case actSend:
			ch := r.chans[a.link]
			if ch == nil {
				continue
			}
			if _, queued := ch.Queued(); queued+len(a.data)+len(a.tail) > r.cfg.QueueBytes {
				r.eng.stats.drop(dropQueueFull)
				r.publishDrop(dropQueueFull.String(), a.link, now)
				continue
			}
			if err := ch.SendParts(r.spec, a.data, a.tail); err != nil && !errors.Is(err, channel.ErrStopped) {
				r.eng.stats.drop(dropQueueFull)
				r.publishDrop(dropQueueFull.String(), a.link, now)
			}
		case actDeliver:
			if ch := r.chans[a.msg.from]; ch != nil && !a.msg.local {
				r.useful.TagUseful(ch.Peer())
			}
			post.calls = r.deliverLocked(a.msg, now, post.calls)
		case actViolation:
			if ch := r.chans[a.link]; ch != nil {
				post.bans = append(post.bans, ban{ch: ch, err: a.err})
			}
		case actDrop:
			r.publishDrop(a.reason, a.link, now)
		case actTree:
			if r.events.Messages() {
				r.events.Publish(events.Event{Kind: events.RelayTree, ChannelID: uint64(a.link), State: a.reason, Time: now})
			}
		}
	}
	r.armLocked()
	return post
}

func (r *Relay) publishDrop(reason string, l linkID, now time.Time) {
	r.events.Publish(events.Event{Kind: events.RelayDrop, ChannelID: uint64(l), State: reason, Time: now})
}

// deliverLocked hands a message to its topic's subscribers, and adds
// the calls of its handlers to calls.
func (r *Relay) deliverLocked(d *delivery, now time.Time, calls []handlerCall) []handlerCall {
	t := r.topics[d.m.GetTopic()]
	if t == nil || len(t.subs)+len(t.handlers) == 0 {
		return calls
	}
	origin, err := peer.IDFromBytes(d.m.GetOrigin())
	if err != nil {
		return calls
	}
	from := origin
	if ch := r.chans[d.from]; ch != nil {
		from = ch.Peer()
	}
	in := &incoming{m: d.m, id: d.id}
	var msg *Message
	if d.local {
		msg = r.message(in, origin, now, true)
	} else {
		msg = r.messageFrom(in, origin, from, now)
	}
	for s := range t.subs {
		if s.push(msg) {
			r.eng.stats.drop(dropSubscriber)
		}
	}
	for _, h := range t.handlers {
		calls = append(calls, handlerCall{h: h, m: msg})
	}
	return calls
}

// ban is a violation to report once r.mu is released.
type ban struct {
	ch  *channel.Channel
	err error
}

// armLocked sets the timer to the engine's next deadline; r.mu is held.
func (r *Relay) armLocked() {
	at, ok := r.eng.Deadline()
	if !ok || r.closed {
		if r.timer != nil && !r.timerAt.IsZero() {
			r.timer.Stop()
			r.timerAt = time.Time{}
		}
		return
	}
	if !r.timerAt.IsZero() && !at.Before(r.timerAt) {
		return
	}
	r.timerAt = at
	d := max(time.Until(at), 0)
	if r.timer == nil {
		r.timer = time.AfterFunc(d, r.tick)
	} else {
		r.timer.Reset(d)
	}
}

// tick runs the engine's deadlines.
func (r *Relay) tick() {
	now := time.Now()
	r.mu.Lock()
	r.timerAt = time.Time{}
	post := r.execLocked(r.eng.Tick(now), now)
	r.mu.Unlock()
	post.run()
}
