// Package protocols holds dnode's protocol registry (DarkFi's
// ProtocolRegistry): the list of protocols to attach to each new channel,
// chosen by the channel's session kind.
//
// A protocol registers a Registration: its name, the session kinds it runs
// on, the stream Specs it uses, and a constructor. For every new channel
// whose session kind is in the registration's set, the constructor runs
// before the version handshake (so the protocol can subscribe and buffer
// early messages); the protocol's Start runs only after the handshake
// succeeded. Every goroutine a protocol starts must be started with
// Channel.Go, which ties it to the channel's life.
//
// Built-in protocols live in subpackages (version, ping); applications
// register theirs through exactly the same API.
package protocols
