// Package nodehook carries the root package's machinery accessors to
// internal/nodeinternal without an import cycle: package dnode fills Funcs
// in its init, once, and nothing writes it afterwards. Use
// internal/nodeinternal, not this package.
package nodehook

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dnode-p2p/dnode/addrbook"
	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/sessions"
	"github.com/dnode-p2p/dnode/settings"
)

// Funcs are the accessors; each takes a *dnode.Node.
type Funcs struct {
	Settings             func(n any) settings.Settings
	Running              func(n any) bool
	Host                 func(n any) *dhost.Host
	Manager              func(n any) *sessions.Manager
	Manual               func(n any) *sessions.Manual
	Direct               func(n any) *sessions.Direct
	Book                 func(n any) *addrbook.Book
	OutboundSlots        func(n any) []uint64
	Seed                 func(n any, ctx context.Context) (sessions.SyncResult, error)
	HostlistSaveFailures func(n any) uint64
	HostlistBadLines     func(n any) uint64
	RejectedBroadcasts   func(n any) uint64
	InboundEvictions     func(n any) uint64
	IsMember             func(n any, p peer.ID) bool
}

// F is set by package dnode's init and read-only afterwards.
var F Funcs
