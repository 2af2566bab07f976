package host

import (
	"errors"

	"github.com/libp2p/go-libp2p/core/network"
)

// Reasons the gater refuses a connection (Admit).
var (
	// ErrBlacklisted: the configured blacklist covers the peer or address.
	ErrBlacklisted = errors.New("connection refused: blacklisted")
	// ErrBanned: the peer or its address is banned.
	ErrBanned = errors.New("connection refused: banned")
	// ErrInboundFull: the inbound cap is reached.
	ErrInboundFull = errors.New("connection refused: inbound slots full")
)

// Admission is what Admit and Evictable decide on for one connection.
type Admission struct {
	Dir         network.Direction
	Blacklisted bool // the blacklist covers the peer or address
	Banned      bool // the peer or address is banned now
	InboundFull bool // live inbound connections reached the cap

	Inbound   int  // live inbound connections (and slots reserved by evictions)
	Limit     int  // the inbound cap
	Connected bool // the peer already has a connection with us
}

// Admit returns why a connection is refused (ErrBlacklisted, ErrBanned,
// ErrInboundFull), or nil. Bans and the blacklist apply in both
// directions, the inbound cap to inbound connections only. It is the
// gater's rule, as a pure function.
func Admit(a Admission) error {
	switch {
	case a.Blacklisted:
		return ErrBlacklisted
	case a.Banned:
		return ErrBanned
	case a.Dir == network.DirInbound && a.InboundFull:
		return ErrInboundFull
	}
	return nil
}

// Evictable reports whether an inbound connection that Admit refuses
// because the inbound cap is reached may instead evict an inbound peer
// (ConnMgr.MakeRoom): only when the cap is above 0 and exactly reached
// (not exceeded, as after the cap was lowered) and the newcomer has no
// connection with us yet, so that a second connection of a connected
// peer never evicts anyone. It is a pure function.
func Evictable(a Admission) bool {
	return errors.Is(Admit(a), ErrInboundFull) && a.Limit > 0 && a.Inbound == a.Limit && !a.Connected
}
