package metrics

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/protocols/version"
	"github.com/dnode-p2p/dnode/sessions"
)

// Ban reasons, the values of dnode_bans_total's reason label.
const (
	BanViolation = "violation" // the peer broke a protocol rule
	BanVersion   = "version"   // incompatible app or version
	BanManual    = "manual"    // an operator ban (reason starting with "manual")
	BanOther     = "other"
)

// Handshake results, the values of dnode_handshake_duration_seconds's
// result label.
const (
	HandshakeOK           = "ok"
	HandshakeIncompatible = "incompatible"
	HandshakeOtherNetwork = "other_network"
	HandshakeTimeout      = "timeout"
	HandshakeViolation    = "violation"
	HandshakeError        = "error"
)

// Metrics collects a node's metrics. It is the node's sessions.Observer
// (pass it with dnode.WithObserver) and a collector of gauges read from
// the node at scrape time. It is safe for concurrent use.
type Metrics struct {
	node atomic.Pointer[dnode.Node]

	messages   *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	dropped    *prometheus.CounterVec
	handshakes *prometheus.HistogramVec
	bans       *prometheus.CounterVec

	mu    sync.RWMutex
	perSp map[*channel.Spec]*specCounters // cached label lookups
}

var _ sessions.Observer = (*Metrics)(nil)

// specCounters are one protocol's message and byte counters.
type specCounters struct {
	msgsIn, msgsOut, bytesIn, bytesOut prometheus.Counter
}

// New registers the node's metrics on reg (prometheus.DefaultRegisterer
// when nil) and returns them. n may be nil when the node is built after
// the metrics (it needs them as its observer): then call SetNode. It
// panics if the metrics are already registered on reg; use one registry
// per node, or prometheus.WrapRegistererWith to tell nodes apart.
func New(reg prometheus.Registerer, n *dnode.Node) *Metrics {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	m := &Metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnode_messages_total",
			Help: "Messages sent (direction out) and received (in), by protocol.",
		}, []string{"protocol", "direction"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnode_message_bytes_total",
			Help: "Encoded message bytes sent (direction out) and received (in), by protocol.",
		}, []string{"protocol", "direction"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnode_messages_dropped_total",
			Help: "Messages dropped, by protocol and reason: send_queue (a channel's send queue was full) or subscriber (a subscription was full).",
		}, []string{"protocol", "reason"}),
		handshakes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dnode_handshake_duration_seconds",
			Help:    "Version handshake durations, by session kind and result (ok, incompatible, other_network, timeout, violation, error).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"session", "result"}),
		bans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnode_bans_total",
			Help: "Peers banned, by reason: violation, version, manual or other.",
		}, []string{"reason"}),
		perSp: make(map[*channel.Spec]*specCounters),
	}
	m.SetNode(n)
	reg.MustRegister(m.messages, m.bytes, m.dropped, m.handshakes, m.bans, &nodeCollector{m: m})
	return m
}

// SetNode sets the node whose state the scrape-time gauges read (nil
// removes them).
func (m *Metrics) SetNode(n *dnode.Node) { m.node.Store(n) }

// NewRegistry returns a registry with the Go runtime and process
// collectors and go-libp2p's resource manager collectors (libp2p_rcmgr_*,
// process-wide: shared by every node of the process), for New and
// Handler.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	rcmgr.MustRegisterWith(reg)
	return reg
}

// Handler serves g's metrics in the Prometheus text format.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

func (m *Metrics) counters(spec *channel.Spec) *specCounters {
	m.mu.RLock()
	c := m.perSp[spec]
	m.mu.RUnlock()
	if c != nil {
		return c
	}
	name := spec.Name()
	c = &specCounters{
		msgsIn:   m.messages.WithLabelValues(name, "in"),
		msgsOut:  m.messages.WithLabelValues(name, "out"),
		bytesIn:  m.bytes.WithLabelValues(name, "in"),
		bytesOut: m.bytes.WithLabelValues(name, "out"),
	}
	m.mu.Lock()
	m.perSp[spec] = c
	m.mu.Unlock()
	return c
}

// Message implements sessions.Observer.
func (m *Metrics) Message(_ *channel.Channel, spec *channel.Spec, out bool, size int) {
	c := m.counters(spec)
	if out {
		c.msgsOut.Inc()
		c.bytesOut.Add(float64(size))
	} else {
		c.msgsIn.Inc()
		c.bytesIn.Add(float64(size))
	}
}

// Dropped implements sessions.Observer.
func (m *Metrics) Dropped(_ *channel.Channel, spec *channel.Spec, reason string) {
	switch reason {
	case "send_queue", "subscriber":
	default:
		reason = "other"
	}
	m.dropped.WithLabelValues(spec.Name(), reason).Inc()
}

// Handshake implements sessions.Observer.
func (m *Metrics) Handshake(kind channel.Session, d time.Duration, err error) {
	m.handshakes.WithLabelValues(kind.String(), HandshakeResult(err)).Observe(d.Seconds())
}

// Banned implements sessions.Observer.
func (m *Metrics) Banned(reason string) {
	m.bans.WithLabelValues(BanReason(reason)).Inc()
}

// HandshakeResult names the outcome of a handshake that ended with err.
func HandshakeResult(err error) string {
	switch {
	case err == nil:
		return HandshakeOK
	case errors.Is(err, version.ErrIncompatible):
		return HandshakeIncompatible
	case errors.Is(err, version.ErrOtherNetwork):
		return HandshakeOtherNetwork
	case errors.Is(err, version.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return HandshakeTimeout
	case errors.Is(err, channel.ErrViolation):
		return HandshakeViolation
	}
	return HandshakeError
}

// BanReason maps a ban's free-text reason to the bounded label set.
func BanReason(reason string) string {
	switch {
	case strings.HasPrefix(reason, "manual"):
		return BanManual
	case strings.Contains(reason, version.ErrIncompatible.Error()):
		return BanVersion
	case strings.Contains(reason, channel.ErrViolation.Error()):
		return BanViolation
	}
	return BanOther
}

// nodeCollector reads gauges from the node at scrape time.
type nodeCollector struct{ m *Metrics }

var (
	descUp = prometheus.NewDesc("dnode_up",
		"1 while the node is running.", nil, nil)
	descInfo = prometheus.NewDesc("dnode_node_info",
		"Constant 1, labelled with the node's network, app version and peer ID.", []string{"network", "version", "peer_id"}, nil)
	descChannels = prometheus.NewDesc("dnode_channels",
		"Started channels, by session kind and direction (who dialed).", []string{"session", "direction"}, nil)
	descHosts = prometheus.NewDesc("dnode_hosts",
		"Entries of the address book, by list: grey, white, gold, black, dark.", []string{"list"}, nil)
	descRTT = prometheus.NewDesc("dnode_ping_rtt_seconds",
		"Last ping round trip over the channels that have one: min, mean and max.", []string{"stat"}, nil)
	descRTTChannels = prometheus.NewDesc("dnode_ping_rtt_channels",
		"Channels with a measured ping round trip.", nil, nil)
	descSlots = prometheus.NewDesc("dnode_outbound_slots",
		"Outbound slots, by state: filled or empty.", []string{"state"}, nil)
	descInbound = prometheus.NewDesc("dnode_inbound_connections",
		"Live inbound libp2p connections (channels and handshakes in progress).", nil, nil)
	descRejected = prometheus.NewDesc("dnode_broadcasts_rejected_total",
		"Broadcasts rejected: node not running or too many in flight.", nil, nil)
	descSaveFailures = prometheus.NewDesc("dnode_hostlist_save_failures_total",
		"Hostlist saves that failed.", nil, nil)
	descEvictions = prometheus.NewDesc("dnode_inbound_evictions_total",
		"Inbound channels stopped to give their slot to a newcomer (inbound eviction).", nil, nil)
	descBadLines = prometheus.NewDesc("dnode_hostlist_bad_lines_total",
		"Hostlist lines skipped when the hostlist was loaded: malformed lines and a truncated last line.", nil, nil)
)

// sessionKinds and directions are the label values dnode_channels always
// reports, so that its series do not come and go.
var (
	sessionKinds = []channel.Session{channel.Inbound, channel.Outbound, channel.Manual, channel.Seed, channel.Refine, channel.Direct}
	directions   = []string{"inbound", "outbound"}
	colors       = []addrbook.Color{addrbook.Grey, addrbook.White, addrbook.Gold, addrbook.Black, addrbook.Dark}
)

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descInfo, descChannels, descHosts, descRTT, descRTTChannels,
		descSlots, descInbound, descRejected, descSaveFailures, descBadLines, descEvictions} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.m.node.Load()
	if n == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	running := nodeinternal.Running(n)
	up := 0.0
	if running {
		up = 1
	}
	gauge(descUp, up)
	s := nodeinternal.Settings(n)
	gauge(descInfo, 1, s.Network, s.AppVersion, n.ID().String())
	counter(descRejected, float64(nodeinternal.RejectedBroadcasts(n)))
	counter(descSaveFailures, float64(nodeinternal.HostlistSaveFailures(n)))
	counter(descBadLines, float64(nodeinternal.HostlistBadLines(n)))
	counter(descEvictions, float64(nodeinternal.InboundEvictions(n)))

	type key struct {
		session   channel.Session
		direction string
	}
	counts := make(map[key]int)
	var rttN int
	var rttMin, rttMax, rttSum time.Duration
	for _, chn := range n.Channels() {
		dir := "outbound"
		if chn.Direction() == network.DirInbound {
			dir = "inbound"
		}
		counts[key{chn.Session(), dir}]++
		if r := chn.RTT(); r > 0 {
			if rttN == 0 || r < rttMin {
				rttMin = r
			}
			rttMax = max(rttMax, r)
			rttSum += r
			rttN++
		}
	}
	for _, k := range sessionKinds {
		for _, d := range directions {
			gauge(descChannels, float64(counts[key{k, d}]), k.String(), d)
		}
	}
	gauge(descRTTChannels, float64(rttN))
	if rttN > 0 {
		gauge(descRTT, rttMin.Seconds(), "min")
		gauge(descRTT, (rttSum / time.Duration(rttN)).Seconds(), "mean")
		gauge(descRTT, rttMax.Seconds(), "max")
	}
	if b := nodeinternal.Book(n); b != nil {
		for _, col := range colors {
			gauge(descHosts, float64(b.Len(col)), col.String())
		}
	}
	if running {
		filled := 0
		slots := nodeinternal.OutboundSlots(n)
		for _, id := range slots {
			if id != 0 {
				filled++
			}
		}
		gauge(descSlots, float64(filled), "filled")
		gauge(descSlots, float64(len(slots)-filled), "empty")
		if h := nodeinternal.Host(n); h != nil {
			gauge(descInbound, float64(h.Conns.Inbound()))
		}
	}
}
