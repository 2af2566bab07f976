// Package version implements dnode's version handshake
// (/dnode/<network>/version/1.0.0), DarkFi's ProtocolVersion.
//
// The side that wants the channel opens the version stream; then both
// sides run the same exchange: write Version, read the peer's Version,
// write Verack, read the peer's Verack, all under the handshake timeout.
// The peers are compatible if and only if their app names are equal and
// their app versions (semver) have the same MAJOR.MINOR. Version is
// capped at MaxVersionBytes and Verack at MaxVerackBytes. A peer of
// another network does not support the stream's protocol ID, so the
// exchange fails at protocol negotiation (ErrOtherNetwork).
package version
