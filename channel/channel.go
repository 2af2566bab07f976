package channel

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/protocols/pb"
)

// DefaultSendQueue is the send queue length used when Config.SendQueue is
// zero.
const DefaultSendQueue = 512

// Config holds what a channel needs from its owner. Conn, Network and
// Session are required.
type Config struct {
	ID      uint64       // unique per node
	Conn    network.Conn // the connection the channel lives on
	Network string       // network id, for protocol IDs
	Session Session      // the one session kind of this channel

	FrameTimeout time.Duration // a frame must complete within this once started; default 10s
	WriteTimeout time.Duration // a batch must be written within this; default 15s
	SendQueue    int           // send queue length; default DefaultSendQueue

	// Violation is called once, from the goroutine that detected it, when
	// the peer breaks a protocol rule; the channel stops right after.
	Violation func(ch *Channel, err error)
	// Stopped is called once after the channel stopped and every goroutine
	// of it returned, just before Done is closed.
	Stopped func(ch *Channel)
	// Observer, if set, sees every message sent, received and dropped.
	Observer Observer

	Logger *slog.Logger
}

// Channel is one libp2p connection to a peer that completed (or is
// completing) the version handshake. See the package doc.
type Channel struct {
	cfg   Config
	log   *slog.Logger
	peer  peer.ID
	start time.Time

	ctx       context.Context // cancelled by Stop
	cancel    context.CancelFunc
	ready     chan struct{} // closed by Control.Start
	startOnce sync.Once
	stopping  chan struct{} // closed by Stop
	done      chan struct{} // closed when fully stopped
	stopOnce  sync.Once
	wg        sync.WaitGroup // readers, writer and jobs

	version atomic.Pointer[pb.Version]
	peerIDs atomic.Pointer[map[string]bool] // protocol IDs the peer runs, from its Version
	rtt     atomic.Int64                    // last ping RTT in ns, 0 if none

	sent, received    atomic.Uint64 // messages
	dropped           atomic.Uint64 // messages dropped (send queue or subscriber full)
	bytesIn, bytesOut atomic.Uint64

	mu       sync.Mutex
	stopErr  error
	onStop   []func()
	protos   map[*Spec]*protoState
	queue    []outFrame // send queue
	queued   int        // bytes of the frames in queue
	writing  bool       // a writer goroutine is running
	meterSum int        // sum of metered thresholds
}

// protoState is a channel's state for one attached protocol.
type protoState struct {
	spec     *Spec
	out      *outStream // nil until the first send
	in       network.Stream
	subs     []*subscriber // copy-on-write under Channel.mu
	handlers []Handler     // copy-on-write under Channel.mu
	filters  []Filter      // copy-on-write under Channel.mu
	raw      RawHandler    // set: frames go to it undecoded
	meter    meterQueue
}

// Observer sees a channel's traffic, for debug events and metrics. Its
// methods are called from the channel's reader and writer goroutines and
// must not block.
type Observer interface {
	// Message reports one message of protocol spec sent (out) or received,
	// of size encoded bytes.
	Message(ch *Channel, spec *Spec, out bool, size int)
	// Dropped reports one message of spec dropped: reason is "send_queue"
	// (the send queue was full) or "subscriber" (a subscription was full).
	Dropped(ch *Channel, spec *Spec, reason string)
}

// Handler handles one received message in the stream's reader goroutine.
// It must not block (queueing a reply with Send is fine). A non-nil error
// stops the channel; wrap ErrViolation to report misbehaviour.
type Handler func(msg proto.Message) error

// Filter sees the encoded bytes of a received message before it is
// decoded, in the stream's reader goroutine; returning false drops the
// message undecoded (it is still counted and metered). Protocols that
// deduplicate (relays) use it to skip decoding copies they already have.
// It must not block, and must not keep or modify raw.
type Filter func(raw []byte) bool

// RawHandler takes the encoded bytes of every message of its protocol
// instead of a decoded message (handlers and subscriptions of that
// protocol are then not called), in the stream's reader goroutine, after
// filters and metering. When owned is true raw was allocated for this
// message alone and the handler may keep it (a relay keeps a large
// payload without copying it); otherwise it must not keep or modify it.
// It must not block; a non-nil error stops the channel as a Handler's.
type RawHandler func(raw []byte, owned bool) error

// New returns a channel on cfg.Conn that is not yet started, and its
// Control, the owner half (Start, SetVersion, ServeStream), for the
// session layer that made it alone. The caller owns the channel and must
// Stop it.
func New(cfg Config) (*Channel, *Control) {
	if cfg.FrameTimeout <= 0 {
		cfg.FrameTimeout = 10 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 15 * time.Second
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Channel{
		cfg:      cfg,
		peer:     cfg.Conn.RemotePeer(),
		ctx:      ctx,
		cancel:   cancel,
		ready:    make(chan struct{}),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
		protos:   make(map[*Spec]*protoState),
	}
	c.log = cfg.Logger.With("channel", cfg.ID, "peer", c.peer.String(), "session", cfg.Session.String())
	return c, &Control{c: c}
}

// ID returns the channel's id, unique within its node.
func (c *Channel) ID() uint64 { return c.cfg.ID }

// Peer returns the remote peer's ID.
func (c *Channel) Peer() peer.ID { return c.peer }

// RemoteAddr returns the remote address of the connection.
func (c *Channel) RemoteAddr() ma.Multiaddr { return c.cfg.Conn.RemoteMultiaddr() }

// Conn returns the underlying connection.
func (c *Channel) Conn() network.Conn { return c.cfg.Conn }

// Direction returns who dialed the connection.
func (c *Channel) Direction() network.Direction { return c.cfg.Conn.Stat().Direction }

// Session returns the channel's session kind.
func (c *Channel) Session() Session { return c.cfg.Session }

// Network returns the network id the channel belongs to.
func (c *Channel) Network() string { return c.cfg.Network }

// StartTime returns when the handshake completed (zero before Start).
func (c *Channel) StartTime() time.Time {
	select {
	case <-c.ready:
		return c.start
	default:
		return time.Time{}
	}
}

// Version returns the peer's version message (nil before the handshake).
func (c *Channel) Version() *pb.Version { return c.version.Load() }

// setVersion records the peer's version message (Control.SetVersion).
func (c *Channel) setVersion(v *pb.Version) {
	c.version.Store(v)
	if len(v.GetProtocols()) == 0 {
		return
	}
	ids := make(map[string]bool, len(v.GetProtocols()))
	for _, p := range v.GetProtocols() {
		ids[p] = true
	}
	c.peerIDs.Store(&ids)
}

// PeerRuns reports whether the peer announced protocol spec in its
// Version (true before the handshake, or if it announced nothing).
func (c *Channel) PeerRuns(spec *Spec) bool {
	ids := c.peerIDs.Load()
	return ids == nil || (*ids)[string(spec.ID(c.cfg.Network))]
}

// RTT returns the last measured ping round trip (0 if none yet).
func (c *Channel) RTT() time.Duration { return time.Duration(c.rtt.Load()) }

// SetRTT records a ping round trip; the ping protocol calls it.
func (c *Channel) SetRTT(d time.Duration) { c.rtt.Store(int64(d)) }

// Stats returns message and byte counters.
func (c *Channel) Stats() Stats {
	return Stats{
		MessagesIn: c.received.Load(), MessagesOut: c.sent.Load(), Dropped: c.dropped.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
	}
}

// Stats are a channel's traffic counters.
type Stats struct {
	MessagesIn, MessagesOut, Dropped, BytesIn, BytesOut uint64
}

// Logger returns the channel's logger (with channel, peer and session
// attributes).
func (c *Channel) Logger() *slog.Logger { return c.log }

// Context returns a context cancelled when the channel stops.
func (c *Channel) Context() context.Context { return c.ctx }

// String describes the channel for logs.
func (c *Channel) String() string {
	return fmt.Sprintf("channel %d %s %s", c.cfg.ID, c.cfg.Session, c.peer.ShortString())
}

// markStarted marks the handshake as done (Control.Start), once.
func (c *Channel) markStarted() {
	c.startOnce.Do(func() {
		c.start = time.Now()
		close(c.ready)
	})
}

// Ready is closed once the channel is started.
func (c *Channel) Ready() <-chan struct{} { return c.ready }

// Go runs job in a goroutine tied to the channel's life: ctx is cancelled
// when the channel stops, and Done waits for job to return. It returns
// false, without running job, if the channel is already stopping.
func (c *Channel) Go(job func(ctx context.Context)) bool {
	if !c.addWorker() {
		return false
	}
	go func() {
		defer c.wg.Done()
		job(c.ctx)
	}()
	return true
}

// Run calls f synchronously as a worker of the channel, so that Done
// waits for it; timer callbacks use it. It returns false, without calling
// f, if the channel is stopping.
func (c *Channel) Run(f func()) bool {
	if !c.addWorker() {
		return false
	}
	defer c.wg.Done()
	f()
	return true
}

// OnStop registers f to be called synchronously by Stop (or at once if
// the channel is already stopping). f must not block.
func (c *Channel) OnStop(f func()) {
	c.mu.Lock()
	if c.stopErr == nil {
		c.onStop = append(c.onStop, f)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	f()
}

// addWorker registers one goroutine in the wait group unless stopping.
// c.mu orders it with Stop's close of stopping.
func (c *Channel) addWorker() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopErr != nil {
		return false
	}
	c.wg.Add(1)
	return true
}

// Stop stops the channel with reason err (nil means a local stop): it
// cancels the channel's context, resets its streams and releases the
// connection once every goroutine has returned. It never blocks and is
// idempotent; only the first reason is kept, as a *StopReason (err
// classified by KindOf unless it is one already; see Because).
func (c *Channel) Stop(err error) {
	c.stopOnce.Do(func() {
		err := error(reasonOf(err))
		c.mu.Lock()
		c.stopErr = err
		var streams []network.Stream
		for _, ps := range c.protos {
			if ps.out != nil {
				streams = append(streams, ps.out.s)
			}
			if ps.in != nil {
				streams = append(streams, ps.in)
			}
		}
		c.queue = nil
		c.queued = 0
		onStop := c.onStop
		c.onStop = nil
		c.mu.Unlock()
		close(c.stopping)
		c.cancel()
		for _, f := range onStop {
			f()
		}
		for _, s := range streams {
			_ = s.Reset()
		}
		c.log.Debug("channel stopping", "reason", err)
		go func() {
			c.wg.Wait()
			if c.cfg.Stopped != nil {
				c.cfg.Stopped(c)
			}
			close(c.done)
		}()
	})
}

// Err returns why the channel stopped (nil while it runs): a
// *StopReason, whose Kind says what class of reason it was.
func (c *Channel) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopErr
}

// Stopping is closed as soon as Stop is called.
func (c *Channel) Stopping() <-chan struct{} { return c.stopping }

// Done is closed once the channel has stopped and every goroutine of it
// has returned.
func (c *Channel) Done() <-chan struct{} { return c.done }

// Wait blocks until Done or ctx is done.
func (c *Channel) Wait(ctx context.Context) error {
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// violation reports a protocol violation by the peer and stops.
func (c *Channel) violation(err error) {
	err = fmt.Errorf("%w: %w", ErrViolation, err)
	select {
	case <-c.stopping:
		return
	default:
	}
	c.log.Info("peer broke protocol", "err", err)
	if c.cfg.Violation != nil {
		c.cfg.Violation(c, err)
	}
	c.Stop(err)
}

// Ban reports misbehaviour found by a protocol (for example a version
// mismatch): the owner applies its ban policy, and the channel stops.
func (c *Channel) Ban(reason error) { c.violation(reason) }
