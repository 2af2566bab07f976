package dnode

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
)

// Info is a snapshot of a node, taken by Node.Info: plain values that stay
// true to the moment they were taken and hold no live internals.
type Info struct {
	Running       bool
	PeerID        peer.ID // "" when not running
	Network       string
	AppVersion    string         // settings' app_version, or Version when unset
	Addrs         []ma.Multiaddr // listen addresses with /p2p/<id>
	ExternalAddrs []ma.Multiaddr // external addresses the node advertises
	Channels      []ChannelInfo  // started channels, by ID
	OutboundSlots []uint64       // each outbound slot's channel ID (0 when empty)
	Hosts         HostCounts     // the address book's lists (the last run's when stopped)

	// The settings that change at run time: the configured values, or
	// the last change through Admin (whether running or not).
	OutboundConnections int
	InboundConnections  int
	Seeds               []ma.Multiaddr

	// Reachability is what the node knows about being reachable from the
	// internet (Status "unknown" while not running).
	Reachability Reachability
}

// ChannelInfo describes one channel.
type ChannelInfo struct {
	ID        uint64
	Peer      peer.ID
	Addr      ma.Multiaddr // the peer's address on the channel's connection
	Session   channel.Session
	Direction network.Direction
	RTT       time.Duration // last ping round trip, 0 before the first
	Start     time.Time     // when the handshake completed
	Stats     channel.Stats // bytes and messages each way
	Relayed   bool          // the connection is limited (a relay circuit)
}

// HostCounts are the sizes of the address book's lists.
type HostCounts struct {
	Grey, White, Gold, Black, Dark int
}

// Info returns a snapshot of the node. It is safe for concurrent use and
// never blocks on the network.
func (n *Node) Info() Info {
	info := Info{
		Running:    n.running(),
		PeerID:     n.ID(),
		Network:    n.settings.Network,
		AppVersion: n.settings.AppVersion,
		Addrs:      n.Addrs(),

		OutboundConnections: n.live.outboundSlots(),
		InboundConnections:  n.live.inboundLimit(),
		Seeds:               n.live.seedList(),
		Reachability:        n.reachability(),
	}
	if info.AppVersion == "" {
		info.AppVersion = Version
	}
	if r := n.cur.Load(); r != nil {
		info.ExternalAddrs = r.mgr.ExternalAddrs()
		info.OutboundSlots = r.outbound.Slots()
	}
	for _, ch := range n.Channels() {
		info.Channels = append(info.Channels, channelInfo(ch))
	}
	slices.SortFunc(info.Channels, func(a, b ChannelInfo) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	if b := n.book(); b != nil {
		info.Hosts = HostCounts{
			Grey: b.Len(addrbook.Grey), White: b.Len(addrbook.White), Gold: b.Len(addrbook.Gold),
			Black: b.Len(addrbook.Black), Dark: b.Len(addrbook.Dark),
		}
	}
	return info
}

func channelInfo(ch *channel.Channel) ChannelInfo {
	return ChannelInfo{
		ID:        ch.ID(),
		Peer:      ch.Peer(),
		Addr:      ch.RemoteAddr(),
		Session:   ch.Session(),
		Direction: ch.Direction(),
		RTT:       ch.RTT(),
		Start:     ch.StartTime(),
		Stats:     ch.Stats(),
		Relayed:   ch.Conn().Stat().Limited,
	}
}
