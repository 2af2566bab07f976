package addr

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols"
	"github.com/dnode-p2p/dnode/protocols/pb"
)

// Protocol name, version and caps.
const (
	Name           = "addr"
	ProtocolSemver = "1.0.0"
	// MaxBytes caps one AddrMessage (DarkFi's ADDRS_MAX_BYTES is 65281).
	MaxBytes = 65536
	// MaxEntries caps the entries of one Addrs (Bitcoin's MAX_ADDR_TO_SEND).
	MaxEntries = 1000
	// MaxTransports caps the transports of one GetAddrs.
	MaxTransports = 8
	// MaxGetAddrsBytes caps an encoded GetAddrs.
	MaxGetAddrsBytes = 128
	// MinRequestInterval is the least time between two GetAddrs of ours on
	// one channel, so that discovery never trips the peer's metering
	// (12 addr messages per 10 s).
	MinRequestInterval = 2 * time.Second
)

// ErrNoReply is returned by SeedExchange when the seed did not answer.
var ErrNoReply = errors.New("seed sent no addresses in time")

// Node is the node the protocol serves, as the protocol sees it. Its
// methods are called from channel goroutines: they must be safe for
// concurrent use and must not block.
type Node interface {
	// AddrBook returns the node's address book.
	AddrBook() *addrbook.Book
	// GetAddrsMax returns how many addresses to ask a peer for.
	GetAddrsMax() int
	// DialableTransports returns the transports the node can dial ("tcp",
	// "quic", "ws"), sent in GetAddrs.
	DialableTransports() []string
	// ExternalAddrs returns the node's external addresses with /p2p/,
	// advertised to each peer.
	ExternalAddrs() []ma.Multiaddr
}

// SelfAdvertised is implemented by a Node that wants to hear of every
// received address of the sender itself once it went through the book
// (the refinery verifies such addresses promptly). It must not block.
type SelfAdvertised interface {
	SelfAdvertised(addrbook.Entry)
}

// Config wires the protocol to its node.
type Config struct {
	Node Node // required; may also implement SelfAdvertised
}

// Service is the protocol for one node: it keeps one instance per channel.
// It is safe for concurrent use.
type Service struct {
	cfg   Config
	proto *channel.Protocol[*pb.AddrMessage]

	processed   atomic.Uint64 // addresses handed to the book
	rateLimited atomic.Uint64 // addresses dropped by the token bucket

	mu    sync.Mutex
	insts map[*channel.Channel]*instance
}

// New returns the service. Register Registration() on the node's registry.
// cfg.Node must not be nil.
func New(cfg Config) *Service {
	return &Service{
		cfg: cfg,
		proto: channel.NewProtocol[*pb.AddrMessage](Name, ProtocolSemver, MaxBytes,
			channel.Metering{Threshold: 12, Expiry: 10 * time.Second}),
		insts: make(map[*channel.Channel]*instance),
	}
}

// Spec returns the protocol's stream Spec.
func (s *Service) Spec() *channel.Spec { return s.proto.Spec() }

// Stats are the service's counters.
type Stats struct{ Processed, RateLimited uint64 }

// Stats returns the counters.
func (s *Service) Stats() Stats {
	return Stats{Processed: s.processed.Load(), RateLimited: s.rateLimited.Load()}
}

// Registration returns the registry entry, for sessions (normally
// channel.Default|channel.Seed).
func (s *Service) Registration(sessions channel.Session) protocols.Registration {
	return protocols.Registration{
		Name:     Name,
		Sessions: sessions,
		Specs:    []*channel.Spec{s.proto.Spec()},
		New:      s.newInstance,
	}
}

// instance is the protocol on one channel.
type instance struct {
	svc *Service
	ch  *channel.Channel

	mu       sync.Mutex
	bucket   bucket
	asked    time.Time // when we last sent GetAddrs
	awaiting bool      // a SeedExchange waits for the next Addrs
	reply    chan int  // count stored from that Addrs
}

func (s *Service) newInstance(ch *channel.Channel) (protocols.Protocol, error) {
	in := &instance{svc: s, ch: ch, bucket: newBucket(time.Now()), reply: make(chan int, 1)}
	s.proto.Handle(ch, in.handle)
	s.mu.Lock()
	s.insts[ch] = in
	s.mu.Unlock()
	ch.OnStop(func() {
		s.mu.Lock()
		delete(s.insts, ch)
		s.mu.Unlock()
	})
	return in, nil
}

// Start advertises our addresses on outbound channels and asks for
// addresses, except on seed channels (see SeedExchange).
func (in *instance) Start(context.Context) error {
	switch in.ch.Session() {
	case channel.Seed:
		return nil
	case channel.Outbound:
		in.advertise()
	}
	in.request(false)
	return nil
}

// advertise sends our external addresses.
func (in *instance) advertise() {
	ext := in.svc.cfg.Node.ExternalAddrs()
	if len(ext) == 0 {
		return
	}
	now := uint64(time.Now().Unix())
	msg := &pb.Addrs{}
	for _, a := range ext {
		msg.Addrs = append(msg.Addrs, &pb.AddrEntry{Addr: a.Bytes(), LastSeen: now})
	}
	in.send(&pb.AddrMessage{Body: &pb.AddrMessage_Addrs_{Addrs_: msg}})
}

// request sends GetAddrs and credits the token bucket for the reply. With
// paced set it does nothing if the last request is more recent than
// MinRequestInterval, and reports whether it sent.
func (in *instance) request(paced bool) bool {
	max := in.svc.cfg.Node.GetAddrsMax()
	now := time.Now()
	in.mu.Lock()
	if paced && now.Sub(in.asked) < MinRequestInterval {
		in.mu.Unlock()
		return false
	}
	in.asked = now
	in.bucket.credit(now, 2*max)
	in.mu.Unlock()
	in.send(&pb.AddrMessage{Body: &pb.AddrMessage_GetAddrs{GetAddrs: &pb.GetAddrs{
		Max: uint32(max), Transports: in.svc.cfg.Node.DialableTransports(),
	}}})
	return true
}

func (in *instance) send(m *pb.AddrMessage) {
	if err := in.svc.proto.Send(in.ch, m); err != nil && !errors.Is(err, channel.ErrStopped) {
		in.ch.Logger().Debug("addr message not sent", "err", err)
	}
}

func (in *instance) handle(m *pb.AddrMessage) error {
	switch b := m.Body.(type) {
	case *pb.AddrMessage_GetAddrs:
		return in.answer(b.GetAddrs)
	case *pb.AddrMessage_Addrs_:
		return in.receive(b.Addrs_)
	default:
		return fmt.Errorf("%w: empty addr message", channel.ErrViolation)
	}
}

// answer replies to GetAddrs from the book.
func (in *instance) answer(g *pb.GetAddrs) error {
	if err := CheckGetAddrs(g); err != nil {
		return err
	}
	entries := in.svc.cfg.Node.AddrBook().SelectRaw(int(min(g.Max, uint32(MaxEntries/2))), g.Transports)
	reply := &pb.Addrs{Addrs: make([]*pb.AddrEntry, 0, len(entries))}
	pes := make([]pb.AddrEntry, len(entries)) // one allocation for all
	size := 0
	for i, e := range entries {
		pe := &pes[i]
		pe.Addr, pe.LastSeen = e.Addr, uint64(e.LastSeen.Unix())
		// Keep the reply under the cap: entry size plus tag and length.
		n := proto.Size(pe) + 3
		if size+n > MaxBytes-16 || len(reply.Addrs) == MaxEntries {
			break
		}
		size += n
		reply.Addrs = append(reply.Addrs, pe)
	}
	in.send(&pb.AddrMessage{Body: &pb.AddrMessage_Addrs_{Addrs_: reply}})
	return nil
}

// receive stores addresses within the token bucket.
func (in *instance) receive(a *pb.Addrs) error {
	if len(a.Addrs) > MaxEntries {
		return fmt.Errorf("%w: Addrs with %d entries, cap %d", channel.ErrViolation, len(a.Addrs), MaxEntries)
	}
	in.mu.Lock()
	allowed := in.bucket.take(time.Now(), len(a.Addrs))
	in.mu.Unlock()
	if limited := len(a.Addrs) - allowed; limited > 0 {
		in.svc.rateLimited.Add(uint64(limited))
	}
	book := in.svc.cfg.Node.AddrBook()
	entries := decodeWith(book, a.Addrs[:allowed])
	in.svc.processed.Add(uint64(len(entries)))
	stored := book.Insert(in.ch.Peer(), entries)
	if sa, ok := in.svc.cfg.Node.(SelfAdvertised); ok {
		for _, e := range entries {
			if e.Peer == in.ch.Peer() {
				sa.SelfAdvertised(e)
			}
		}
	}
	in.mu.Lock()
	awaiting := in.awaiting
	in.awaiting = false
	in.mu.Unlock()
	if awaiting {
		select {
		case in.reply <- stored:
		default:
		}
	}
	return nil
}

// RequestAll sends GetAddrs on every channel running the protocol except
// seed and refine channels, at most once per MinRequestInterval per
// channel, and returns on how many it sent.
func (s *Service) RequestAll() int {
	s.mu.Lock()
	insts := make([]*instance, 0, len(s.insts))
	for ch, in := range s.insts {
		if ch.Session().Broadcasts() && ch.StartTime() != (time.Time{}) {
			insts = append(insts, in)
		}
	}
	s.mu.Unlock()
	sent := 0
	for _, in := range insts {
		if in.request(true) {
			sent++
		}
	}
	return sent
}

// SeedExchange runs the seed client on a seed channel: it advertises our
// external addresses, asks for addresses and waits for one Addrs until
// ctx is done. It returns how many addresses entered the greylist, or
// ErrNoReply.
func (s *Service) SeedExchange(ctx context.Context, ch *channel.Channel) (int, error) {
	s.mu.Lock()
	in := s.insts[ch]
	s.mu.Unlock()
	if in == nil {
		return 0, fmt.Errorf("seed exchange: addr protocol not attached to %s", ch)
	}
	in.mu.Lock()
	in.awaiting = true
	in.mu.Unlock()
	select { // drop a stale reply of an earlier exchange
	case <-in.reply:
	default:
	}
	in.advertise()
	in.request(false)
	select {
	case n := <-in.reply:
		return n, nil
	case <-ch.Stopping():
		return 0, fmt.Errorf("%w: channel closed: %w", ErrNoReply, ch.Err())
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: %w", ErrNoReply, ctx.Err())
	}
}
