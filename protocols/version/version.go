package version

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"
	"golang.org/x/mod/semver"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols/pb"
)

// Protocol name and version of the handshake stream.
const (
	Name            = "version"
	ProtocolSemver  = "1.0.0"
	MaxVersionBytes = 4096 // DarkFi's cap is 2043 bytes of URLs; multiaddrs with peer IDs are longer
	MaxVerackBytes  = 256
	// MaxExternalAddrs and MaxProtocols bound the lists in a Version.
	MaxExternalAddrs = 16
	MaxProtocols     = 64
)

// ID returns the handshake's protocol ID on network.
func ID(network string) protocol.ID {
	return protocol.ID("/dnode/" + network + "/" + Name + "/" + ProtocolSemver)
}

// Errors of the handshake.
var (
	// ErrIncompatible: the peer runs another app or another MAJOR.MINOR.
	ErrIncompatible = errors.New("incompatible peer version")
	// ErrOtherNetwork: the peer does not run this network's handshake.
	ErrOtherNetwork = errors.New("peer is not on this network")
	// ErrTimeout: the handshake did not finish in time.
	ErrTimeout = errors.New("handshake timed out")
)

// Local is what this node says about itself.
type Local struct {
	AppName    string
	AppVersion string
	External   []ma.Multiaddr // with /p2p/<id>
	Protocols  []string       // dnode protocol IDs this node runs
}

// Compatible reports whether a peer announcing theirName/theirVersion can
// talk to us (ourName/ourVersion): equal names and equal MAJOR.MINOR. The
// error wraps ErrIncompatible and says what differs.
func Compatible(ourName, ourVersion, theirName, theirVersion string) error {
	if ourName != theirName {
		return fmt.Errorf("%w: app %q, ours is %q", ErrIncompatible, theirName, ourName)
	}
	theirs, ours := "v"+theirVersion, "v"+ourVersion
	if !ValidSemver(theirVersion) {
		return fmt.Errorf("%w: app version %q is not semver", ErrIncompatible, theirVersion)
	}
	if semver.MajorMinor(theirs) != semver.MajorMinor(ours) {
		return fmt.Errorf("%w: %s %s, ours is %s", ErrIncompatible, theirName, theirVersion, ourVersion)
	}
	return nil
}

// ValidSemver reports whether v is a semver MAJOR.MINOR.PATCH version
// with optional -prerelease and +build parts.
func ValidSemver(v string) bool {
	core := v
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	return semver.IsValid("v"+v) && strings.Count(core, ".") == 2
}

// Exchange runs the handshake on s (read and written through rw, which
// may be a lazily negotiated view of s) under timeout and ctx. observed is
// the peer's address as we see it. It returns the peer's Version once
// both sides exchanged Version and Verack and the peer is compatible.
// now is the timestamp to announce. On any error the caller resets s.
func Exchange(ctx context.Context, s network.Stream, rw io.ReadWriter, local Local, observed ma.Multiaddr, timeout time.Duration, now time.Time) (*pb.Version, error) {
	deadline := time.Now().Add(timeout)
	_ = s.SetDeadline(deadline) // transports use the OS clock
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()

	ours := &pb.Version{
		AppName:    local.AppName,
		AppVersion: local.AppVersion,
		Timestamp:  uint64(now.Unix()),
		Protocols:  local.Protocols,
	}
	if observed != nil {
		ours.ObservedAddr = observed.Bytes()
	}
	for _, a := range local.External {
		ours.ExternalAddrs = append(ours.ExternalAddrs, a.Bytes())
	}
	if err := channel.WriteFrame(rw, ours, MaxVersionBytes); err != nil {
		return nil, classify(ctx, "send version", err)
	}
	theirs := &pb.Version{}
	if err := channel.ReadFrame(rw, theirs, MaxVersionBytes); err != nil {
		return nil, classify(ctx, "read version", err)
	}
	if len(theirs.ExternalAddrs) > MaxExternalAddrs || len(theirs.Protocols) > MaxProtocols {
		return nil, fmt.Errorf("%w: version lists too long", channel.ErrViolation)
	}
	if err := channel.WriteFrame(rw, &pb.Verack{AppName: local.AppName, AppVersion: local.AppVersion}, MaxVerackBytes); err != nil {
		return nil, classify(ctx, "send verack", err)
	}
	ack := &pb.Verack{}
	if err := channel.ReadFrame(rw, ack, MaxVerackBytes); err != nil {
		return nil, classify(ctx, "read verack", err)
	}
	if err := Compatible(local.AppName, local.AppVersion, ack.AppName, ack.AppVersion); err != nil {
		linger(s, rw, deadline)
		return nil, err
	}
	if ack.AppName != theirs.AppName || ack.AppVersion != theirs.AppVersion {
		return nil, fmt.Errorf("%w: verack %s %s contradicts version %s %s", channel.ErrViolation,
			ack.AppName, ack.AppVersion, theirs.AppName, theirs.AppVersion)
	}
	_ = s.SetDeadline(time.Time{})
	return theirs, nil
}

// Linger bounds how long Exchange waits, after refusing an incompatible
// peer, for the peer to finish reading and close its end.
const Linger = time.Second

// maxLingerBytes caps what linger reads (and discards) from the peer.
const maxLingerBytes = 4096

// linger half-closes s after a refusal and waits, up to Linger (and
// within the handshake's deadline), for the peer's end to close: the
// peer has our Version and Verack, and a reset or a connection closed
// now would make its transport drop them unread (yamux discards a reset
// stream's buffered data, TCP a reset connection's), so the peer would
// see "stream reset" instead of learning that we are incompatible. Both
// ends of an incompatible pair refuse, so each sees the other's close at
// once.
func linger(s network.Stream, rw io.Reader, deadline time.Time) {
	if s.CloseWrite() != nil {
		return
	}
	if dl := time.Now().Add(Linger); dl.Before(deadline) {
		deadline = dl
	}
	if s.SetReadDeadline(deadline) != nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(rw, maxLingerBytes))
}

// classify turns a stream error into one of the package's errors.
func classify(ctx context.Context, step string, err error) error {
	var ne interface{ Timeout() bool }
	var se *network.StreamError
	switch {
	case errors.Is(err, channel.ErrViolation):
		return fmt.Errorf("%s: %w", step, err)
	case errors.As(err, new(msmux.ErrNotSupported[protocol.ID])) || errors.Is(err, msmux.ErrNotSupported[protocol.ID]{}),
		errors.As(err, &se) && se.Remote && se.ErrorCode == network.StreamProtocolNegotiationFailed:
		// go-libp2p answers an unsupported protocol by resetting the
		// stream with this code rather than with multistream's "na".
		return fmt.Errorf("%s: %w", step, ErrOtherNetwork)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", step, ctx.Err())
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s: %w", step, ErrTimeout)
	}
	return fmt.Errorf("%s: %w", step, err)
}
