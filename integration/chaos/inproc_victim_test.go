package chaos_test

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/internal/testnet"
	"github.com/dnode-p2p/dnode/relay"
	"github.com/dnode-p2p/dnode/settings"
)

// victimSettings are loopback test settings (localnet, 3 s handshake,
// 500 ms heartbeat) with inbound slots for inbound channels.
func victimSettings(t testing.TB, inbound int) settings.Settings {
	s := testnet.Settings(t)
	s.Net.InboundConnections = inbound
	s.Net.OutboundConnections = 0
	return s
}

// victim is an in-process node under attack, with a relay.
type victim struct {
	node  *dnode.Node
	relay *relay.Relay
}

// startVictim builds and starts a node from s with a relay configured by
// rc. Every attacker shares 127.0.0.1, which libp2p's per-address limits
// exempt; they are raised and the per-address rate limit removed as well
// (dnode.WithPerIPLimit), so that dnode's own defences and libp2p's
// global limits are what the attacks meet.
func startVictim(t testing.TB, s settings.Settings, rc relay.Config) *victim {
	t.Helper()
	n, err := dnode.New(s, dnode.WithLogHandler(testnet.LogHandler(t), "node", "victim"), dnode.WithPerIPLimit(1<<16))
	if err != nil {
		t.Fatalf("new victim: %v", err)
	}
	r, err := relay.New(n, rc, nil)
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("start victim: %v", err)
	}
	t.Cleanup(func() {
		r.Close()
		_ = n.Stop()
	})
	return &victim{node: n, relay: r}
}

func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	testnet.Eventually(t, timeout, cond)
}

// The -chaos.full flag is registered by main_test.go (package chaos);
// this registers it when that file is absent, so that these tests stand
// alone. Package chaos is initialized first (import paths are sorted).
func init() {
	if flag.Lookup("chaos.full") == nil {
		flag.Bool("chaos.full", false, "run the chaos suite at full size")
	}
}

// fullRun reports whether -chaos.full was given.
func fullRun() bool {
	f := flag.Lookup("chaos.full")
	return f != nil && f.Value.String() == "true"
}

// scale holds the sizes of one run of the in-process attacks.
type scale struct {
	malformedConns, malformedFrames int           // malformed frames: connections × frames each
	flood                           int           // connections of each flood kind (secured, raw)
	slowloris                       int           // trickling connections of each kind
	streams                         int           // streams opened on one channel's connection
	relayMeter                      int           // the victim's relay meter_messages
	recover                         time.Duration // resources must be back near baseline within this
	relayBanWithin                  time.Duration // the relay flooder must be banned within this
}

func sizes() scale {
	if fullRun() {
		return scale{malformedConns: 100, malformedFrames: 100, flood: 2048, slowloris: 256, streams: 5000,
			relayMeter: relay.DefaultMeterMessages, recover: 30 * time.Second, relayBanWithin: 60 * time.Second}
	}
	return scale{malformedConns: 10, malformedFrames: 10, flood: 256, slowloris: 32, streams: 500,
		relayMeter: 2000, recover: 30 * time.Second, relayBanWithin: 20 * time.Second}
}

// peerstoreSize is how many peers the victim's peerstore holds. go-libp2p
// forgets a disconnected peer after a one-minute grace period
// (pstoremanager), so the attackers' fresh identities linger that long:
// reported, not asserted.
func peerstoreSize(v *victim) int { return len(nodeinternal.Host(v.node).Peerstore().Peers()) }
