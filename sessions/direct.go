package sessions

import (
	"time"

	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/events"
	"github.com/dnode-p2p/dnode/internal/lifecycle"
)

// ErrSeedPeer is returned when a direct channel to a seed is requested.
var ErrSeedPeer = errors.New("seeds are only used for seeding")

// Direct is the direct session: on-demand channels for protocols that
// need a specific peer. Get reuses any existing channel to the peer,
// deduplicates concurrent requests for the same peer, and counts the
// users of the channels it opened; such a channel is closed when its last
// user releases it. A successful direct handshake moves the host to gold,
// as an outbound one does. It is safe for concurrent use.
type Direct struct {
	m *Manager

	wg sync.WaitGroup // one watcher per open direct channel

	mu      sync.Mutex
	users   map[*channel.Channel]int
	pending map[peer.ID]chan struct{} // closed when the dial finishes
}

// Stop waits for the watchers of direct channels, at most until ctx is
// done (the error wraps ctx.Err()); the Manager stops the channels
// themselves.
func (d *Direct) Stop(ctx context.Context) error {
	return lifecycle.Wait(ctx, &d.wg, "direct channels")
}

// NewDirect returns the direct session of m. It refuses every peer of
// m's live seed list (Manager.Seeds) with ErrSeedPeer.
func NewDirect(m *Manager) *Direct {
	return &Direct{m: m, users: map[*channel.Channel]int{}, pending: map[peer.ID]chan struct{}{}}
}

// Get returns a channel to the peer at addr (a multiaddr with /p2p/) and
// a release function the caller must call once when done with it.
func (d *Direct) Get(ctx context.Context, addr ma.Multiaddr) (*channel.Channel, func(), error) {
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("direct: %w", err)
	}
	if d.m.IsSeed(ai.ID) { // the live list: seeds added at run time too
		return nil, nil, ErrSeedPeer
	}
	for {
		d.mu.Lock()
		if ch := d.m.Channel(ai.ID); ch != nil {
			if _, ours := d.users[ch]; ours {
				d.users[ch]++
				d.mu.Unlock()
				return ch, d.releaser(ch), nil
			}
			d.mu.Unlock()
			return ch, func() {}, nil // another session's channel: not ours to close
		}
		wait, busy := d.pending[ai.ID]
		if !busy {
			done := make(chan struct{})
			d.pending[ai.ID] = done
			d.mu.Unlock()
			ch, err := d.dial(ctx, *ai, addr)
			d.mu.Lock()
			delete(d.pending, ai.ID)
			close(done)
			if err != nil {
				d.mu.Unlock()
				if errors.Is(err, ErrAlreadyConnected) || errors.Is(err, ErrDuplicate) {
					continue // someone else's channel is (about to be) there
				}
				return nil, nil, err
			}
			d.users[ch] = 1
			d.mu.Unlock()
			return ch, d.releaser(ch), nil
		}
		d.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// Users returns how many users hold the direct channel ch.
func (d *Direct) Users(ch *channel.Channel) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.users[ch]
}

func (d *Direct) releaser(ch *channel.Channel) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			n := d.users[ch] - 1
			if n > 0 {
				d.users[ch] = n
				d.mu.Unlock()
				return
			}
			delete(d.users, ch)
			d.mu.Unlock()
			ch.Stop(nil)
		})
	}
}

// dial opens a direct channel, keeping the address book's state machine
// informed so that no slot dials the same host meanwhile.
func (d *Direct) dial(ctx context.Context, ai peer.AddrInfo, addr ma.Multiaddr) (*channel.Channel, error) {
	bus := d.m.cfg.Events
	var lease *addrbook.Lease // nil without a book
	if book := d.m.cfg.Book; book != nil {
		e := addrbook.Entry{Addr: addr, Peer: ai.ID, LastSeen: time.Now()}
		l, err := book.ConnectLease(e)
		if err != nil {
			return nil, fmt.Errorf("direct: host busy: %w", err)
		}
		lease = l
	}
	bus.Publish(events.Event{Kind: events.DirectConnecting, Addr: addr.String()})
	ch, err := d.m.Connect(ctx, ai, channel.Direct)
	if err != nil {
		if lease != nil {
			lease.Done()
		}
		bus.Publish(events.Event{Kind: events.DirectDisconnected, Addr: addr.String(), Err: err.Error()})
		return nil, err
	}
	if lease != nil {
		if err := lease.Connected(); err != nil {
			// Banned meanwhile, or blocked: the entries stay; Done
			// below still records the disconnect.
			d.m.log.Debug("book refused direct host", "addr", addr, "err", err)
		}
	}
	bus.Publish(events.Event{Kind: events.DirectConnected, Addr: addr.String(), ChannelID: ch.ID()})
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		<-ch.Done()
		d.mu.Lock()
		delete(d.users, ch)
		d.mu.Unlock()
		if lease != nil {
			lease.Done() // the disconnect
		}
		bus.Publish(events.Event{Kind: events.DirectDisconnected, Addr: addr.String(), Err: errString(ch.Err())})
	}()
	return ch, nil
}
