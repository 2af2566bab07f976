package dnode

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode/addrbook"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/internal/nodehook"
	"github.com/dnode-p2p/dnode/sessions"
	"github.com/dnode-p2p/dnode/settings"
)

// The machinery accessors (settings, host, session manager, sessions,
// book, counters) are not Node methods: dnode's own packages reach them
// through internal/nodeinternal, which calls these.
func init() {
	nodehook.F = nodehook.Funcs{
		Settings:             func(n any) settings.Settings { return n.(*Node).currentSettings() },
		Running:              func(n any) bool { return n.(*Node).running() },
		Host:                 func(n any) *dhost.Host { return n.(*Node).host() },
		Manager:              func(n any) *sessions.Manager { return n.(*Node).manager() },
		Manual:               func(n any) *sessions.Manual { return n.(*Node).manual() },
		Direct:               func(n any) *sessions.Direct { return n.(*Node).direct() },
		Book:                 func(n any) *addrbook.Book { return n.(*Node).book() },
		OutboundSlots:        func(n any) []uint64 { return n.(*Node).outboundSlots() },
		Seed:                 func(n any, ctx context.Context) (sessions.SyncResult, error) { return n.(*Node).seed(ctx) },
		HostlistSaveFailures: func(n any) uint64 { return n.(*Node).hostlistSaveFailures.Load() },
		HostlistBadLines:     func(n any) uint64 { return n.(*Node).hostlistBadLines.Load() },
		RejectedBroadcasts:   func(n any) uint64 { return n.(*Node).bcast.rejected.Load() },
		InboundEvictions:     func(n any) uint64 { return n.(*Node).inboundEvictions() },
		IsMember:             func(n any, p peer.ID) bool { return n.(*Node).isMember(p) },
	}
}
