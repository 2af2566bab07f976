// Package ping implements dnode's keepalive (/dnode/<network>/ping/1.0.0),
// DarkFi's ProtocolPing: every heartbeat interval, starting right after
// the handshake, each side sends Ping{nonce} with a fresh random nonce and
// expects Pong{nonce} within the timeout (the profile's connect timeout).
// No pong in time, or a pong with another nonce, stops the channel; a pong
// while none is awaited is ignored. Every Ping is answered with a Pong
// carrying its nonce. The round-trip time is recorded on the channel.
//
// The protocol runs on timers and the stream's reader goroutine: it adds
// no goroutine per channel.
package ping
