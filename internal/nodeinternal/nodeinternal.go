package nodeinternal

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	dnode "github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/addrbook"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/internal/nodehook"
	"github.com/dnode-p2p/dnode/sessions"
	"github.com/dnode-p2p/dnode/settings"
)

// Settings returns a copy of n's settings, with the current values of
// those that change at run time (net.outbound_connections,
// net.inbound_connections, net.seeds; see dnode.Admin). Whether n is
// running or not does not matter.
func Settings(n *dnode.Node) settings.Settings { return nodehook.F.Settings(n) }

// Running reports whether n is started; unlike n.Info().Running it takes
// no snapshot, for callers on a hot path.
func Running(n *dnode.Node) bool { return nodehook.F.Running(n) }

// Host returns the running node's host (nil when not running).
func Host(n *dnode.Node) *dhost.Host { return nodehook.F.Host(n) }

// Manager returns the running node's session manager (nil when not
// running).
func Manager(n *dnode.Node) *sessions.Manager { return nodehook.F.Manager(n) }

// Manual returns the running node's manual session (nil when not running).
func Manual(n *dnode.Node) *sessions.Manual { return nodehook.F.Manual(n) }

// Direct returns the running node's direct session (nil when not running).
func Direct(n *dnode.Node) *sessions.Direct { return nodehook.F.Direct(n) }

// Book returns the address book of the running node, or of the last run
// after Stop (nil before the first Start).
func Book(n *dnode.Node) *addrbook.Book { return nodehook.F.Book(n) }

// OutboundSlots returns each outbound slot's channel ID, 0 when empty
// (nil when not running).
func OutboundSlots(n *dnode.Node) []uint64 { return nodehook.F.OutboundSlots(n) }

// Seed runs one seed-sync round now (DarkFi's P2p::seed) and returns its
// result; it blocks until every seed answered, failed or ctx is done. It
// fails with dnode.ErrNotRunning when the node is not running.
func Seed(ctx context.Context, n *dnode.Node) (sessions.SyncResult, error) {
	return nodehook.F.Seed(n, ctx)
}

// HostlistSaveFailures returns how many hostlist saves failed.
func HostlistSaveFailures(n *dnode.Node) uint64 { return nodehook.F.HostlistSaveFailures(n) }

// HostlistBadLines returns how many hostlist lines the node's loads
// skipped as malformed or truncated (see addrbook.Book.Load).
func HostlistBadLines(n *dnode.Node) uint64 { return nodehook.F.HostlistBadLines(n) }

// RejectedBroadcasts returns how many broadcasts were rejected.
func RejectedBroadcasts(n *dnode.Node) uint64 { return nodehook.F.RejectedBroadcasts(n) }

// InboundEvictions returns how many inbound channels n stopped to give
// their slot to a newcomer, over all its runs.
func InboundEvictions(n *dnode.Node) uint64 { return nodehook.F.InboundEvictions(n) }

// IsMember reports whether p belongs to n's network (a channel with us, or
// identify says it serves our version protocol): the relay service's
// members and AutoRelay's candidates.
func IsMember(n *dnode.Node, p peer.ID) bool { return nodehook.F.IsMember(n, p) }
