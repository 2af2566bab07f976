package channel

import (
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/dnode-p2p/dnode/protocols/pb"
)

// Control is the owner half of a Channel, returned by New beside it to the
// session layer that made the channel and not reachable from the Channel:
// protocols and applications hold the Channel only. Its methods are safe
// for concurrent use.
type Control struct{ c *Channel }

// Start marks the handshake as done: incoming protocol streams are served
// from now on and the start time is set. Calls after the first do nothing.
func (k *Control) Start() { k.c.markStarted() }

// SetVersion records the peer's version message; the handshake calls it.
// From then on Send refuses protocols the peer did not list (a peer that
// lists none is assumed to run every protocol).
func (k *Control) SetVersion(v *pb.Version) { k.c.setVersion(v) }

// ServeStream reads the peer's incoming stream for spec until it ends or
// the channel stops, dispatching each message to the subscriptions of
// spec. It runs in the caller's goroutine (the libp2p stream handler),
// waits for Start, and always resets or closes s before returning. A
// stream for a protocol not attached to the channel, or a second one, is
// reset without harm. The stream is attached to ServiceName with its
// reader's buffers reserved in its scope (see ScopeStream); a stream the
// resource manager refuses is reset, and the channel keeps running.
func (k *Control) ServeStream(spec *Spec, s network.Stream) { k.c.serveStream(spec, s) }
