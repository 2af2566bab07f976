// Package addr implements dnode's address exchange
// (/dnode/<network>/addr/1.0.0), DarkFi's ProtocolAddress and the client
// side of ProtocolSeed.
//
// On every long-lived channel each side asks the other for addresses
// (GetAddrs{max, transports}) when the channel starts, answers GetAddrs
// from its address book (gold then white hosts of the requested
// transports up to max, filled up to 2·max with other transports and dark
// hosts; never grey), and stores received Addrs in its greylist through
// the address book's filter. On outbound channels it first advertises its
// own external addresses. Addresses received beyond a token bucket
// (Bitcoin's 0.1 per second, burst 1000, credited by 2·max after each of
// our GetAddrs) are dropped and counted, not stored.
//
// On seed channels nothing happens by itself: the seed-sync session calls
// SeedExchange, which advertises our addresses, asks for addresses, waits
// for one Addrs under a timeout and stores it.
package addr
