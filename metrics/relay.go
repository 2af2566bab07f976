package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnode-p2p/dnode/relay"
)

// RegisterRelay registers the relay's metrics (dnode_relay_*) on reg
// (prometheus.DefaultRegisterer when nil); they are read from
// r.Stats() at scrape time. It panics if they are already registered.
func RegisterRelay(reg prometheus.Registerer, r *relay.Relay) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	reg.MustRegister(relayCollector{r: r})
}

var (
	relayCounters = []struct {
		desc *prometheus.Desc
		get  func(relay.Stats) uint64
	}{
		{relayDesc("published_total", "Messages published here."), func(s relay.Stats) uint64 { return s.Published }},
		{relayDesc("received_total", "Distinct messages accepted here for the first time (not our own)."), func(s relay.Stats) uint64 { return s.Received }},
		{relayDesc("duplicates_total", "Copies of messages received again."), func(s relay.Stats) uint64 { return s.Duplicates }},
		{relayDesc("sent_bytes_total", "Relay frame bytes sent."), func(s relay.Stats) uint64 { return s.BytesSent }},
		{relayDesc("received_bytes_total", "Relay frame bytes received."), func(s relay.Stats) uint64 { return s.BytesReceived }},
		{relayDesc("grafts_total", "Links grafted into a tree to get a missing message."), func(s relay.Stats) uint64 { return s.Grafts }},
		{relayDesc("prunes_total", "Links pruned from a tree after a duplicate."), func(s relay.Stats) uint64 { return s.Prunes }},
		{relayDesc("tree_moves_total", "Tree links moved to a path announcements showed shorter."), func(s relay.Stats) uint64 { return s.Optimized }},
		{relayDesc("announced_total", "Message ids announced (IHave)."), func(s relay.Stats) uint64 { return s.Announced }},
		{relayDesc("fetches_total", "Messages asked for (IWant, Graft)."), func(s relay.Stats) uint64 { return s.Fetches }},
		{relayDesc("caught_up_total", "Messages received through catch-up."), func(s relay.Stats) uint64 { return s.CaughtUp }},
	}
	relayGauges = []struct {
		desc *prometheus.Desc
		get  func(relay.Stats) int
	}{
		{relayDesc("links", "Channels running the relay."), func(s relay.Stats) int { return s.Links }},
		{relayDesc("trees", "(topic, origin) trees this node is part of."), func(s relay.Stats) int { return s.Trees }},
		{relayDesc("eager_links", "Eager links summed over the trees."), func(s relay.Stats) int { return s.Eager }},
		{relayDesc("lazy_links", "Lazy links summed over the trees."), func(s relay.Stats) int { return s.Lazy }},
		{relayDesc("history_messages", "Messages kept for fetches and catch-up."), func(s relay.Stats) int { return s.History }},
		{relayDesc("history_bytes", "Data bytes kept for fetches and catch-up."), func(s relay.Stats) int { return s.HistoryBytes }},
		{relayDesc("pending_fetches", "Messages announced to us and not yet here."), func(s relay.Stats) int { return s.Pending }},
	}
	relayDropped = prometheus.NewDesc("dnode_relay_dropped_total",
		"Messages and frames the relay dropped, by reason (queue_full, metering, validation, ignored, too_large, hop_limit, unknown, expired, topic, malformed, subscriber).",
		[]string{"reason"}, nil)
)

func relayDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("dnode_relay_"+name, help, nil, nil)
}

type relayCollector struct{ r *relay.Relay }

func (c relayCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range relayCounters {
		ch <- m.desc
	}
	for _, m := range relayGauges {
		ch <- m.desc
	}
	ch <- relayDropped
}

func (c relayCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.Stats()
	for _, m := range relayCounters {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.get(s)))
	}
	for _, m := range relayGauges {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, float64(m.get(s)))
	}
	for _, reason := range relay.DropReasons() {
		ch <- prometheus.MustNewConstMetric(relayDropped, prometheus.CounterValue, float64(s.Dropped[reason]), reason)
	}
}
