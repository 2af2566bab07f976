package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/leaktest"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/protocols/pb"
	"github.com/dnode-p2p/dnode/protocols/version"
	"github.com/dnode-p2p/dnode/rpc"
	"github.com/dnode-p2p/dnode/settings"
)

func TestMain(m *testing.M) {
	leaktest.Main(m,
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

func testSettings(t testing.TB) settings.Settings {
	s := settings.Default()
	s.Network = "test"
	s.Datastore = t.TempDir()
	s.RPCListen = ""
	s.Net.Inbound = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}
	s.Net.Localnet = true
	s.Net.OutboundConnections = 0
	for name, p := range s.Net.Profiles {
		p.OutboundConnectTimeout = 3 * time.Second
		p.ChannelHandshakeTimeout = 3 * time.Second
		p.ChannelHeartbeatInterval = 200 * time.Millisecond
		s.Net.Profiles[name] = p
	}
	return s
}

func startNode(t testing.TB, opts ...dnode.Option) *dnode.Node {
	t.Helper()
	opts = append([]dnode.Option{dnode.WithLogHandler(slog.DiscardHandler)}, opts...)
	n, err := dnode.New(testSettings(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n
}

// sample returns the value of the series of the exposition text that
// starts with series (name and labels), or -1.
func sample(text, series string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// Two nodes with a manual channel: a's /metrics, served by its RPC
// server, counts their ping traffic, the handshake, the channel and a
// manual ban.
func TestMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	m := New(reg, nil)
	a := startNode(t, dnode.WithObserver(m), dnode.WithLibp2pMetrics(reg))
	m.SetNode(a)
	b := startNode(t)

	srv, err := rpc.New(rpc.Config{Node: a, Listen: "127.0.0.1:0", Metrics: Handler(reg)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	scrape := func() string {
		resp, err := http.Get("http://" + srv.Addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /metrics: %d %s", resp.StatusCode, data)
		}
		return string(data)
	}

	if err := a.Admin().AddPeer(b.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	var text string
	poll(t, 10*time.Second, func() error {
		text = scrape()
		if sample(text, `dnode_messages_total{direction="in",protocol="ping"}`) >= 2 &&
			sample(text, `dnode_messages_total{direction="out",protocol="ping"}`) >= 2 &&
			sample(text, `dnode_ping_rtt_channels`) == 1 {
			return nil
		}
		return fmt.Errorf("no ping traffic counted:\n%s", grep(text, "dnode_"))
	})
	for series, check := range map[string]func(float64) bool{
		`dnode_message_bytes_total{direction="out",protocol="ping"}`:                        positive,
		`dnode_message_bytes_total{direction="in",protocol="ping"}`:                         positive,
		`dnode_handshake_duration_seconds_count{result="ok",session="manual"}`:              positive,
		`dnode_channels{direction="outbound",session="manual"}`:                             one,
		`dnode_channels{direction="inbound",session="inbound"}`:                             zero,
		`dnode_hosts{list="grey"}`:                                                          nonNegative,
		`dnode_up`:                                                                          one,
		`dnode_outbound_slots{state="empty"}`:                                               zero,
		`dnode_inbound_connections`:                                                         zero,
		`dnode_broadcasts_rejected_total`:                                                   zero,
		`dnode_inbound_evictions_total`:                                                     zero,
		`dnode_ping_rtt_seconds{stat="max"}`:                                                positive,
		`dnode_node_info{network="test",peer_id="` + a.ID().String() + `",version="0.1.0"}`: one,
	} {
		if v := sample(text, series); !check(v) {
			t.Errorf("%s = %v", series, v)
		}
	}
	for _, want := range []string{"go_goroutines ", "go_info", "libp2p_rcmgr_limit", "libp2p_rcmgr_connections"} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// b sees a's channel as inbound; a manual ban is counted as manual.
	var ok bool
	if err := mustClient(t, srv).Call(t.Context(), "p2p.ban", &ok, b.ID().String(), 30); err != nil || !ok {
		t.Fatalf("ban: %v %v", ok, err)
	}
	if v := sample(scrape(), `dnode_bans_total{reason="manual"}`); v != 1 {
		t.Errorf("manual bans = %v", v)
	}
}

// poll calls cond every 50 ms until it returns nil, failing with its last
// error after timeout.
func poll(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("within %s: %v", timeout, err)
		}
		<-tick.C
	}
}

func mustClient(t *testing.T, srv *rpc.Server) *rpc.Client {
	c, err := rpc.NewClient(srv.Addr(), "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func positive(v float64) bool    { return v > 0 }
func nonNegative(v float64) bool { return v >= 0 }
func one(v float64) bool         { return v == 1 }
func zero(v float64) bool        { return v == 0 }

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestLabels(t *testing.T) {
	t.Parallel()
	for reason, want := range map[string]string{
		banReasonRPC:                          BanManual,
		"protocol violation: frame too large": BanViolation,
		"incompatible peer version: app \"x\", ours is \"dnode\"":           BanVersion,
		"protocol violation: incompatible peer version: dnode 2.0, ours is": BanVersion,
		"spam": BanOther,
	} {
		if got := BanReason(reason); got != want {
			t.Errorf("BanReason(%q) = %s, want %s", reason, got, want)
		}
	}
	for err, want := range map[error]string{
		nil: HandshakeOK,
		fmt.Errorf("x: %w", version.ErrIncompatible): HandshakeIncompatible,
		version.ErrOtherNetwork:                      HandshakeOtherNetwork,
		version.ErrTimeout:                           HandshakeTimeout,
		context.DeadlineExceeded:                     HandshakeTimeout,
		fmt.Errorf("%w: bad", channel.ErrViolation):  HandshakeViolation,
		errors.New("reset"):                          HandshakeError,
	} {
		if got := HandshakeResult(err); got != want {
			t.Errorf("HandshakeResult(%v) = %s, want %s", err, got, want)
		}
	}
}

// banReasonRPC is the reason the RPC's p2p.ban gives.
const banReasonRPC = "manual: banned over RPC"

// Without a node, only the observer's counters are exposed; the same
// registry cannot take a second node's metrics.
func TestNoNodeAndDuplicate(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	m := New(reg, nil)
	m.Dropped(nil, channel.NewSpec("x", "1.0.0", &pb.PingMessage{}, 64, channel.Metering{}), "weird")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	if names["dnode_up"] || !names["dnode_messages_dropped_total"] {
		t.Errorf("metrics without node: %v", names)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering twice did not panic")
		}
	}()
	New(reg, nil)
}

// A hostlist with a bad line loads the rest, and the skipped line is
// counted in dnode_hostlist_bad_lines_total.
func TestMetricsHostlistBadLines(t *testing.T) {
	t.Parallel()
	s := testSettings(t)
	peerLine := func(ip string) string {
		return "grey\t/ip4/" + ip + "/tcp/1/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo\t1699990000\n"
	}
	data := addrbook.FileHeader + "\n" + peerLine("127.0.0.1") + "not a line\n" + peerLine("127.0.0.2")
	if err := os.WriteFile(s.HostlistPath(), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry()
	m := New(reg, nil)
	n, err := dnode.New(s, dnode.WithObserver(m), dnode.WithLogHandler(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m.SetNode(n)
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	rec := httptest.NewRecorder()
	Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if v := sample(rec.Body.String(), "dnode_hostlist_bad_lines_total"); v != 1 {
		t.Fatalf("dnode_hostlist_bad_lines_total = %v, want 1", v)
	}
	if got := nodeinternal.Book(n).Len(addrbook.Grey); got != 2 {
		t.Fatalf("grey holds %d entries, want the 2 good lines", got)
	}
}
