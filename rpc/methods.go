package rpc

import (
	"context"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/relay"
)

// Info is the result of p2p.get_info.
type Info struct {
	PeerID     string   `json:"peer_id"`     // "" while the node is stopped
	Network    string   `json:"network"`     // network id
	AppVersion string   `json:"app_version"` // application version
	Addrs      []string `json:"addrs"`       // listen multiaddrs with /p2p/
	// ExternalAddrs are the addresses the node advertises to its peers
	// (net.external_addrs, else its listen addresses; with /p2p/).
	ExternalAddrs []string `json:"external_addrs"`
	// Channels are the started channels, by id.
	Channels []ChannelInfo `json:"channels"`
	// OutboundSlots holds each outbound slot's channel id, 0 when empty.
	OutboundSlots []uint64 `json:"outbound_slots"`
	// ChannelsTotal is the number of channels; Channels holds the page
	// asked for (offset, limit), all of them by default.
	ChannelsTotal int `json:"channels_total"`
	// OutboundConnections and InboundConnections are the current slot
	// count and inbound cap: the configured values, or those set at run
	// time (p2p.set_outbound_slots, p2p.set_inbound_limit).
	OutboundConnections int `json:"outbound_connections"`
	InboundConnections  int `json:"inbound_connections"`
	// Seeds are the current seeds (net.seeds with p2p.add_seed and
	// p2p.remove_seed applied), full multiaddrs.
	Seeds []string `json:"seeds"`
	// Reachability is "public", "private" (AutoNAT's verdict, or
	// net.reachability) or "unknown" (also without NAT traversal).
	Reachability string `json:"reachability"`
	// ReachableAddrs are the addresses AutoNAT confirmed reachable.
	ReachableAddrs []string `json:"reachable_addrs"`
	// Relayed reports that the node holds a relay reservation and
	// advertises a circuit address.
	Relayed bool `json:"relayed"`
}

// Slots is the result of p2p.set_outbound_slots and p2p.set_inbound_limit:
// the value now in force.
type Slots struct {
	OutboundConnections *int `json:"outbound_connections,omitempty"`
	InboundConnections  *int `json:"inbound_connections,omitempty"`
}

// SeedChange is the result of p2p.add_seed and p2p.remove_seed: the seed
// added or removed.
type SeedChange struct {
	Added   string `json:"added,omitempty"`
	Removed string `json:"removed,omitempty"`
}

// ChannelInfo describes one channel in Info.
type ChannelInfo struct {
	ID        uint64  `json:"id"`
	PeerID    string  `json:"peer_id"`
	Addr      string  `json:"addr"`       // remote multiaddr, without /p2p/
	Session   string  `json:"session"`    // inbound, outbound, manual, seed, refine or direct
	Direction string  `json:"direction"`  // inbound or outbound: who dialed
	StartTime int64   `json:"start_time"` // handshake completion, unix seconds
	RTTMillis float64 `json:"rtt_ms"`     // last ping round trip, 0 before the first pong
	// Relayed reports that the channel runs over a relayed (circuit v2,
	// limited) connection.
	Relayed bool `json:"relayed"`
	// Traffic of the channel since it opened: protocol messages and their
	// bytes, each way (Channel.Stats).
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	MsgsIn   uint64 `json:"msgs_in"`
	MsgsOut  uint64 `json:"msgs_out"`
}

// Hosts is the result of p2p.get_hosts: the address book's lists.
type Hosts struct {
	Grey  []HostEntry `json:"grey"`
	White []HostEntry `json:"white"`
	Gold  []HostEntry `json:"gold"`
	Dark  []HostEntry `json:"dark"`
	Black []HostEntry `json:"black"`
	// Each list holds the page asked for (offset, limit, applied to each
	// list): a list shorter than limit is complete. (No totals here: the
	// result stays an object of lists only, as before pagination.)
}

// HostEntry is one address of a host list.
type HostEntry struct {
	Addr     string `json:"addr"`      // full multiaddr with /p2p/
	LastSeen int64  `json:"last_seen"` // unix seconds
}

// ChatMessage is one chat message, as dchat.send, dchat.recv and
// dchat.subscribe return it.
type ChatMessage struct {
	ID     string `json:"id"`
	Sender string `json:"sender"`
	Text   string `json:"text"`
	Time   int64  `json:"time"`
	Hops   int    `json:"hops"`
}

// Chat is the chat application the dchat.* methods drive. rpc does not
// import the chat package; its owner adapts it.
type Chat interface {
	// Send broadcasts text and returns the message as sent.
	Send(text string) (ChatMessage, error)
	// Recv returns the latest limit messages, oldest first (all it keeps
	// when limit <= 0).
	Recv(limit int) []ChatMessage
	// Subscribe returns a feed of messages as they arrive and a function
	// that ends the subscription; the feed may be closed after cancel.
	Subscribe() (feed <-chan ChatMessage, cancel func())
}

// maxBanSeconds bounds p2p.ban's duration (100 years).
const maxBanSeconds = 100 * 365 * 24 * 3600

// banReason is the reason of bans made over RPC; metrics count it as
// "manual".
const banReason = "manual: banned over RPC"

// methodTable builds the methods of a server for node n, chat c and
// relay r (either may be nil: then dchat.* or relay.* do not exist).
func methodTable(n *dnode.Node, c Chat, r *relay.Relay) map[string]*method {
	m := map[string]*method{
		"ping": {params: "[]", call: func(context.Context, params) (any, error) { return "pong", nil }},
		"p2p.get_info": {params: "[offset, limit]", names: []string{"offset", "limit"}, maxParams: 2, page: &pageAt{0, 1},
			call: func(_ context.Context, p params) (any, error) {
				return getInfo(n, p.pg), nil
			}},
		"p2p.get_hosts": {params: "[offset, limit]", names: []string{"offset", "limit"}, maxParams: 2, page: &pageAt{0, 1},
			call: func(_ context.Context, p params) (any, error) {
				return getHosts(nodeinternal.Book(n), p.pg), nil
			}},
		"p2p.add_peer": {params: "[multiaddr]", minParams: 1, maxParams: 1, call: func(_ context.Context, p params) (any, error) {
			addr, _, err := p2pAddr(p, 0)
			if err != nil {
				return nil, err
			}
			if err := n.Admin().AddPeer(addr); err != nil {
				return nil, nodeError(err)
			}
			return true, nil
		}},
		"p2p.remove_peer": {params: "[multiaddr]", minParams: 1, maxParams: 1, call: func(_ context.Context, p params) (any, error) {
			addr, _, err := p2pAddr(p, 0)
			if err != nil {
				return nil, err
			}
			removed, err := n.Admin().RemovePeer(addr)
			if err != nil {
				return nil, nodeError(err)
			}
			return removed, nil
		}},
		"p2p.set_outbound_slots": {params: "[n]", names: []string{"n"}, minParams: 1, maxParams: 1,
			call: func(_ context.Context, p params) (any, error) {
				v, err := slotCount(p, n.Admin().SetOutboundSlots)
				if err != nil {
					return nil, err
				}
				return Slots{OutboundConnections: &v}, nil
			}},
		"p2p.set_inbound_limit": {params: "[n]", names: []string{"n"}, minParams: 1, maxParams: 1,
			call: func(_ context.Context, p params) (any, error) {
				v, err := slotCount(p, n.Admin().SetInboundLimit)
				if err != nil {
					return nil, err
				}
				return Slots{InboundConnections: &v}, nil
			}},
		"p2p.add_seed": {params: "[multiaddr]", names: []string{"multiaddr"}, minParams: 1, maxParams: 1,
			call: func(_ context.Context, p params) (any, error) {
				addr, err := seedAddr(p, n.Admin().AddSeed)
				if err != nil {
					return nil, err
				}
				return SeedChange{Added: addr}, nil
			}},
		"p2p.remove_seed": {params: "[multiaddr]", names: []string{"multiaddr"}, minParams: 1, maxParams: 1,
			call: func(_ context.Context, p params) (any, error) {
				addr, err := seedAddr(p, n.Admin().RemoveSeed)
				if err != nil {
					return nil, err
				}
				return SeedChange{Removed: addr}, nil
			}},
		"p2p.get_seeds": {params: "[offset, limit]", names: []string{"offset", "limit"}, maxParams: 2, page: &pageAt{0, 1},
			call: func(_ context.Context, p params) (any, error) {
				return pageOf(multiaddrStrings(n.Admin().Seeds()), p.pg), nil
			}},
		"p2p.ban": {params: "[peer_id or multiaddr, seconds]", minParams: 1, maxParams: 2, call: func(_ context.Context, p params) (any, error) {
			return ban(n, p)
		}},
		"dnet.switch": {params: "[bool]", minParams: 1, maxParams: 1, call: func(_ context.Context, p params) (any, error) {
			on, err := p.bool(0, "on")
			if err != nil {
				return nil, err
			}
			n.Events().SetMessages(on)
			return true, nil
		}},
		"dnet.subscribe_events": {params: "[]", sub: func(params) (pump, func(), error) {
			sub := n.Events().Subscribe(0)
			return func(ctx context.Context, send func(any) bool) {
				for {
					select {
					case <-ctx.Done():
						return
					case e, ok := <-sub.C():
						if !ok || !send(EventFrom(e)) {
							return
						}
					}
				}
			}, sub.Close, nil
		}},
	}
	if r != nil {
		relayMethods(m, r)
	}
	if c != nil {
		m["dchat.send"] = &method{params: "[text]", minParams: 1, maxParams: 1, call: func(_ context.Context, p params) (any, error) {
			text, err := p.string(0, "text")
			if err != nil {
				return nil, err
			}
			msg, err := c.Send(text)
			if err != nil {
				return nil, nodeError(err)
			}
			return msg, nil
		}}
		// dchat.recv counts from the newest message: limit is how many,
		// offset how many of the newest to skip.
		m["dchat.recv"] = &method{params: "[limit, offset]", names: []string{"limit", "offset"}, maxParams: 2, page: &pageAt{1, 0},
			call: func(_ context.Context, p params) (any, error) {
				msgs := c.Recv(0) // the buffer, oldest first: bounded by the chat
				end := max(len(msgs)-p.pg.offset, 0)
				start := max(end-p.pg.limit, 0)
				return pageOf(msgs[start:end], page{0, p.pg.limit}), nil
			}}
		m["dchat.subscribe"] = &method{params: "[]", sub: func(params) (pump, func(), error) {
			feed, cancel := c.Subscribe()
			return func(ctx context.Context, send func(any) bool) {
				for {
					select {
					case <-ctx.Done():
						return
					case msg, ok := <-feed:
						if !ok || !send(msg) {
							return
						}
					}
				}
			}, cancel, nil
		}}
	}
	return m
}

// nodeError reports an error of the node as a server error.
func nodeError(err error) *Error {
	if errors.Is(err, dnode.ErrNotRunning) {
		return errorf(CodeServerError, "node not running")
	}
	return errorf(CodeServerError, "%v", err)
}

// p2pAddr reads params[i] as a multiaddr ending in /p2p/<peer-id>.
func p2pAddr(p params, i int) (ma.Multiaddr, *peer.AddrInfo, error) {
	s, err := p.string(i, "multiaddr")
	if err != nil {
		return nil, nil, err
	}
	addr, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, nil, p.invalid("params[%d] %q is not a multiaddr: %v", i, s, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return nil, nil, p.invalid("params[%d] %q must end in /p2p/<peer-id>", i, s)
	}
	return addr, ai, nil
}

// slotCount reads params[0] as a slot count and applies it with set; a
// value out of the setting's bounds is an invalid params error.
func slotCount(p params, set func(int) error) (int, error) {
	v, err := p.int(0, "n")
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt32 {
		return 0, p.invalid("params[0] (n) %d is too large", v)
	}
	if err := set(int(v)); err != nil {
		if errors.Is(err, dnode.ErrOutOfRange) {
			return 0, p.invalid("params[0] (n): %v", err)
		}
		return 0, nodeError(err)
	}
	return int(v), nil
}

// seedAddr reads params[0] as a seed multiaddr and applies it with
// change (Admin.AddSeed or Admin.RemoveSeed); refusals about the address
// are invalid params errors, the others server errors.
func seedAddr(p params, change func(ma.Multiaddr) error) (string, error) {
	s, err := p.string(0, "multiaddr")
	if err != nil {
		return "", err
	}
	addr, err := ma.NewMultiaddr(s)
	if err != nil {
		return "", p.invalid("params[0] %q is not a multiaddr: %v", s, err)
	}
	if err := change(addr); err != nil {
		if errors.Is(err, dnode.ErrBadSeed) {
			return "", p.invalid("params[0] %q: %v", s, err)
		}
		return "", nodeError(err)
	}
	return addr.String(), nil
}

func ban(n *dnode.Node, p params) (any, error) {
	s, err := p.string(0, "peer_id or multiaddr")
	if err != nil {
		return nil, err
	}
	var (
		id   peer.ID
		addr ma.Multiaddr
	)
	if strings.HasPrefix(s, "/") {
		_, ai, err := p2pAddr(p, 0)
		if err != nil {
			return nil, err
		}
		id = ai.ID
		if len(ai.Addrs) > 0 {
			addr = ai.Addrs[0]
		}
	} else if id, err = peer.Decode(s); err != nil {
		return nil, p.invalid("params[0] %q is neither a peer ID nor a multiaddr: %v", s, err)
	}
	var secs int64
	if p.has(1) {
		if secs, err = p.int(1, "seconds"); err != nil {
			return nil, err
		}
		if secs > maxBanSeconds {
			return nil, p.invalid("params[1] (seconds) must be at most %d", maxBanSeconds)
		}
	}
	if id == n.ID() {
		return nil, errorf(CodeServerError, "cannot ban ourselves")
	}
	if err := n.Admin().BanFor(id, addr, time.Duration(secs)*time.Second, banReason); err != nil {
		return nil, nodeError(err)
	}
	return true, nil
}

// getInfo builds p2p.get_info's result.
func getInfo(n *dnode.Node, pg page) Info {
	snap := n.Info()
	info := Info{
		PeerID:        snap.PeerID.String(),
		Network:       snap.Network,
		AppVersion:    snap.AppVersion,
		Addrs:         multiaddrStrings(snap.Addrs),
		ExternalAddrs: multiaddrStrings(snap.ExternalAddrs),
		Channels:      []ChannelInfo{},
		ChannelsTotal: len(snap.Channels),
		OutboundSlots: snap.OutboundSlots,

		OutboundConnections: snap.OutboundConnections,
		InboundConnections:  snap.InboundConnections,
		Seeds:               multiaddrStrings(snap.Seeds),
	}
	if info.OutboundSlots == nil {
		info.OutboundSlots = []uint64{}
	}
	r := snap.Reachability
	info.Reachability, info.Relayed, info.ReachableAddrs = r.Status, r.Relayed, multiaddrStrings(r.Reachable)
	for _, ch := range pageOf(snap.Channels, pg) {
		info.Channels = append(info.Channels, channelInfo(ch))
	}
	return info
}

func multiaddrStrings(addrs []ma.Multiaddr) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}

func channelInfo(ch dnode.ChannelInfo) ChannelInfo {
	ci := ChannelInfo{
		ID:        ch.ID,
		PeerID:    ch.Peer.String(),
		Addr:      ch.Addr.String(),
		Session:   ch.Session.String(),
		Direction: direction(ch.Direction),
		RTTMillis: float64(ch.RTT) / float64(time.Millisecond),
		Relayed:   ch.Relayed,
	}
	st := ch.Stats
	ci.BytesIn, ci.BytesOut, ci.MsgsIn, ci.MsgsOut = st.BytesIn, st.BytesOut, st.MessagesIn, st.MessagesOut
	if !ch.Start.IsZero() {
		ci.StartTime = ch.Start.Unix()
	}
	return ci
}

func direction(d network.Direction) string {
	switch d {
	case network.DirInbound:
		return "inbound"
	case network.DirOutbound:
		return "outbound"
	}
	return "unknown"
}

// getHosts builds p2p.get_hosts's result; b may be nil (never started).
func getHosts(b *addrbook.Book, pg page) Hosts {
	var h Hosts
	list := func(c addrbook.Color) []HostEntry {
		out := []HostEntry{}
		if b == nil {
			return out
		}
		for _, e := range pageOf(b.Entries(c), pg) {
			out = append(out, HostEntry{Addr: e.Addr.String(), LastSeen: e.LastSeen.Unix()})
		}
		return out
	}
	h.Grey = list(addrbook.Grey)
	h.White = list(addrbook.White)
	h.Gold = list(addrbook.Gold)
	h.Dark = list(addrbook.Dark)
	h.Black = list(addrbook.Black)
	return h
}
