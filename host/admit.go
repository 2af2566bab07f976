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

// Admission is what Admit decides on for one connection.
type Admission struct {
	Dir         network.Direction
	Blacklisted bool // the blacklist covers the peer or address
	Banned      bool // the peer or address is banned now
	InboundFull bool // live inbound connections reached the cap
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
