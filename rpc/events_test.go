package rpc

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/events"
)

func TestEventFrom(t *testing.T) {
	t.Parallel()
	at := time.Unix(1700000000, 123)
	for _, tc := range []struct {
		in   events.Event
		want string
	}{
		{events.Event{Kind: events.OutboundSlotSleeping, Slot: 0, Time: at}, `{"event":"outbound_slot_sleeping","info":{"slot":0}}`},
		{events.Event{Kind: events.OutboundSlotConnected, Slot: 2, Addr: "/ip4/1.2.3.4/tcp/1", ChannelID: 9},
			`{"event":"outbound_slot_connected","info":{"addr":"/ip4/1.2.3.4/tcp/1","channel_id":9,"slot":2}}`},
		{events.Event{Kind: events.InboundConnected, Addr: "/ip4/1.2.3.4/tcp/1", ChannelID: 3},
			`{"event":"inbound_connected","info":{"addr":"/ip4/1.2.3.4/tcp/1","channel_id":3}}`},
		{events.Event{Kind: events.OutboundPeerDiscovery, Attempt: 1, State: "seed"},
			`{"event":"outbound_peer_discovery","info":{"attempt":1,"state":"seed"}}`},
		{events.Event{Kind: events.SeedSync, Addr: "/a"}, `{"event":"seed_sync","info":{"addr":"/a","count":0}}`},
		{events.Event{Kind: events.ChannelFailed, Session: "outbound", Err: "boom"},
			`{"event":"channel_failed","info":{"err":"boom","session":"outbound"}}`},
		{events.Event{Kind: events.NoPeers}, `{"event":"no_peers","info":{}}`},
		{events.Event{Kind: events.Send, Cmd: "ping", ChannelID: 4, Addr: "/x", Count: 12, Time: at},
			`{"event":"send","info":{"addr":"/x","chan":{"addr":"/x","id":4},"channel_id":4,"cmd":"ping","count":12,"time":"1700000000000000123"}}`},
	} {
		got, err := json.Marshal(EventFrom(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("EventFrom(%+v) = %s, %v\nwant %s", tc.in, got, err, tc.want)
		}
	}
}
