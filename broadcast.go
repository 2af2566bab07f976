package dnode

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/lifecycle"
)

// MaxConcurrentBroadcasts bounds Broadcast calls in flight (DarkFi's
// MAX_CONCURRENT_BROADCASTS); further calls are rejected and counted.
const MaxConcurrentBroadcasts = 64

// ErrBroadcastLimit is returned by Broadcast when MaxConcurrentBroadcasts
// broadcasts are already in flight.
var ErrBroadcastLimit = errors.New("broadcast limit reached")

// broadcaster bounds concurrent broadcasts and counts rejections.
type broadcaster struct {
	sem      chan struct{}
	rejected atomic.Uint64
	mu       sync.RWMutex
	isOpen   bool
	wg       sync.WaitGroup
}

func (b *broadcaster) init() { b.sem = make(chan struct{}, MaxConcurrentBroadcasts) }

func (b *broadcaster) open() {
	b.mu.Lock()
	b.isOpen = true
	b.mu.Unlock()
}

func (b *broadcaster) close() {
	b.mu.Lock()
	b.isOpen = false
	b.mu.Unlock()
}

// drain waits for broadcasts in flight, at most until ctx is done; the
// error then wraps ctx.Err().
func (b *broadcaster) drain(ctx context.Context) error {
	return lifecycle.Wait(ctx, &b.wg, "broadcasts")
}

// acquire admits one broadcast, or reports why not.
func (b *broadcaster) acquire() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if !b.isOpen {
		b.rejected.Add(1)
		return ErrNotRunning
	}
	select {
	case b.sem <- struct{}{}:
		b.wg.Add(1)
		return nil
	default:
		b.rejected.Add(1)
		return ErrBroadcastLimit
	}
}

func (b *broadcaster) release() {
	<-b.sem
	b.wg.Done()
}

// Broadcast sends msg on spec's stream of every channel except seed and
// refine channels and the channels in except (a relay passes the channel
// a message came from, to send it everywhere else). It encodes msg once
// and queues it on each channel without blocking; it returns how many
// channels accepted it. A channel whose send queue is full drops the
// message (counted in its Stats). It returns ErrNotRunning or
// ErrBroadcastLimit (both counted in dnode_broadcasts_rejected_total) or
// an encoding error.
func (n *Node) Broadcast(spec *channel.Spec, msg proto.Message, except ...*channel.Channel) (int, error) {
	if err := n.bcast.acquire(); err != nil {
		return 0, err
	}
	defer n.bcast.release()
	data, err := spec.Encode(msg)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, ch := range n.Channels() {
		if !ch.Session().Broadcasts() || slices.Contains(except, ch) {
			continue
		}
		if ch.SendEncoded(spec, data) == nil {
			sent++
		}
	}
	return sent, nil
}
