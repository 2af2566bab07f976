package relay

// dropReason says why a message or frame was dropped.
type dropReason uint8

// The drop reasons, as Stats.Dropped, metrics and events name them.
const (
	dropQueueFull  dropReason = iota // a channel's send queue (or relay byte bound) was full
	dropMetering                     // the channel passed its receive metering: a violation
	dropValidation                   // the topic's validator rejected the message
	dropIgnored                      // the topic's validator ignored the message
	dropTooLarge                     // data over max_message_size
	dropHopLimit                     // crossed max_hops links
	dropUnknown                      // asked for a message we lack, or an announced one never came
	dropExpired                      // time older than history_age or over a minute ahead
	dropTopic                        // a topic this node does not relay
	dropMalformed                    // a frame that breaks the protocol's rules
	dropSubscriber                   // a subscription's queue was full: its oldest message went
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"queue_full", "metering", "validation", "ignored", "too_large", "hop_limit",
	"unknown", "expired", "topic", "malformed", "subscriber",
}

func (r dropReason) String() string { return dropNames[r] }

// DropReasons lists every reason Stats.Dropped may hold, in a fixed
// order.
func DropReasons() []string { return append([]string(nil), dropNames[:]...) }

// counters are the engine's running totals.
type counters struct {
	published, received, duplicates uint64
	bytesSent, bytesReceived        uint64
	grafts, prunes, optimized       uint64
	announced, fetches, caughtUp    uint64
	digestsSent                     uint64
	dropped                         [numDropReasons]uint64
	framesSent, frameBytesSent      [numFrameKinds]uint64
}

// frameKind names a Frame's body, for the per-kind counters.
type frameKind uint8

const (
	kindHello frameKind = iota
	kindMessage
	kindIHave
	kindOffer
	kindIWant
	kindGraft
	kindPrune
	kindDigest
	numFrameKinds
)

var frameKindNames = [numFrameKinds]string{"hello", "message", "ihave", "offer", "iwant", "graft", "prune", "digest"}

func (c *counters) init() {}

func (c *counters) drop(r dropReason) { c.dropped[r]++ }

// Stats are a Relay's counters since it was made, all topics together.
type Stats struct {
	// Published counts messages published here.
	Published uint64 `json:"published"`
	// Received counts distinct messages accepted here for the first time
	// (not our own).
	Received uint64 `json:"received"`
	// Duplicates counts copies of messages received again.
	Duplicates uint64 `json:"duplicates"`
	// BytesSent and BytesReceived count relay frames' encoded bytes.
	BytesSent     uint64 `json:"bytes_sent"`
	BytesReceived uint64 `json:"bytes_received"`
	// Eager and Lazy count links over every tree: a link eager for 3
	// trees and lazy for 2 adds 3 to Eager and 2 to Lazy.
	Eager int `json:"eager"`
	Lazy  int `json:"lazy"`
	// Links counts channels running the relay; Trees the (topic, origin)
	// trees this node is part of.
	Links int `json:"links"`
	Trees int `json:"trees"`
	// History and HistoryBytes are the messages kept for fetches and
	// catch-up; Pending the messages announced to us and not yet here.
	History      int `json:"history"`
	HistoryBytes int `json:"history_bytes"`
	Pending      int `json:"pending"`
	// Grafts counts links grafted to get a missing message; Prunes links
	// pruned after a duplicate; Optimized tree moves to a shorter path.
	Grafts    uint64 `json:"grafts"`
	Prunes    uint64 `json:"prunes"`
	Optimized uint64 `json:"optimized"`
	// Announced counts ids sent in IHave batches; Fetches requests sent
	// (IWant and Graft); CaughtUp messages received through catch-up.
	Announced uint64 `json:"announced"`
	Fetches   uint64 `json:"fetches"`
	CaughtUp  uint64 `json:"caught_up"`
	// Dropped counts dropped messages and frames by reason (every reason
	// of DropReasons is present).
	Dropped map[string]uint64 `json:"dropped"`
	// FramesSent and FrameBytesSent count the frames handed to channels
	// and their encoded bytes, by kind (hello, message, ihave, offer,
	// iwant, graft, prune, digest).
	FramesSent     map[string]uint64 `json:"frames_sent"`
	FrameBytesSent map[string]uint64 `json:"frame_bytes_sent"`
}

// snapshot returns the engine's Stats.
func (e *engine) snapshot() Stats {
	c := &e.stats
	s := Stats{
		Published: c.published, Received: c.received, Duplicates: c.duplicates,
		BytesSent: c.bytesSent, BytesReceived: c.bytesReceived,
		Grafts: c.grafts, Prunes: c.prunes, Optimized: c.optimized,
		Announced: c.announced, Fetches: c.fetches, CaughtUp: c.caughtUp,
		Links: len(e.links), Trees: len(e.treeMap),
		History: e.store.histCount, HistoryBytes: e.store.histBytes, Pending: len(e.fetches),
		Dropped: make(map[string]uint64, numDropReasons),
	}
	for r, n := range c.dropped {
		s.Dropped[dropReason(r).String()] = n
	}
	s.FramesSent = make(map[string]uint64, numFrameKinds)
	s.FrameBytesSent = make(map[string]uint64, numFrameKinds)
	for k := range numFrameKinds {
		s.FramesSent[frameKindNames[k]] = c.framesSent[k]
		s.FrameBytesSent[frameKindNames[k]] = c.frameBytesSent[k]
	}
	for _, t := range e.treeMap {
		n := 0
		for l := range t.eager {
			if e.links[l] != nil {
				n++
			}
		}
		s.Eager += n
		s.Lazy += len(e.links) - n
	}
	return s
}
