package rpc

import (
	"strconv"
	"strings"

	"github.com/dnode-p2p/dnode/events"
)

// Event is a dnet event in DarkFi's JSON form, the params[0] of every
// dnet.subscribe_events notification.
//
// Info holds the event's non-empty fields under their JSON names: slot,
// addr, channel_id, session, cmd, attempt, state, count, err. The slot of
// outbound_slot_* events and the count of seed_sync events are present
// even when 0. send and recv events (message events, on while dnet.switch
// is true) also carry, as DarkFi's do, "time" (unix nanoseconds as a
// decimal string) and "chan": {"addr", "id"}; their count is the message
// size in bytes.
type Event struct {
	Event string         `json:"event"`
	Info  map[string]any `json:"info"`
}

// EventFrom converts an event of the node's bus to DarkFi's JSON form.
func EventFrom(e events.Event) Event {
	info := make(map[string]any, 6)
	if e.Slot != 0 || strings.HasPrefix(string(e.Kind), "outbound_slot_") {
		info["slot"] = e.Slot
	}
	if e.Addr != "" {
		info["addr"] = e.Addr
	}
	if e.ChannelID != 0 {
		info["channel_id"] = e.ChannelID
	}
	if e.Session != "" {
		info["session"] = e.Session
	}
	if e.Cmd != "" {
		info["cmd"] = e.Cmd
	}
	if e.Attempt != 0 {
		info["attempt"] = e.Attempt
	}
	if e.State != "" {
		info["state"] = e.State
	}
	if e.Count != 0 || e.Kind == events.SeedSync {
		info["count"] = e.Count
	}
	if e.Err != "" {
		info["err"] = e.Err
	}
	if e.Kind == events.Send || e.Kind == events.Recv {
		info["time"] = strconv.FormatInt(e.Time.UnixNano(), 10)
		info["chan"] = map[string]any{"addr": e.Addr, "id": e.ChannelID}
	}
	return Event{Event: string(e.Kind), Info: info}
}
