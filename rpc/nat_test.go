package rpc

import (
	"testing"
	"time"

	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/settings"
)

// A node with NAT traversal reports the reachability it was forced to in
// p2p.get_info; a localnet node (TestGetInfo) reports "unknown".
func TestGetInfoReachability(t *testing.T) {
	for _, want := range []settings.Reachability{settings.ReachabilityPrivate, settings.ReachabilityPublic} {
		t.Run(string(want), func(t *testing.T) {
			s := testSettings(t)
			s.Net.Localnet = false
			s.Net.NATPortMap = false // no UPnP search on the test machine's LAN
			s.Net.Reachability = want
			n := startNode(t, s)
			if !nodeinternal.Host(n).NATEnabled() {
				t.Fatal("host built without NAT traversal")
			}
			c := client(t, startServer(t, Config{Node: n}), "")
			var info Info
			deadline := time.Now().Add(10 * time.Second)
			for {
				if err := c.Call(t.Context(), "p2p.get_info", &info); err != nil {
					t.Fatal(err)
				}
				if info.Reachability == string(want) || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond) // polling with a deadline
			}
			if info.Reachability != string(want) {
				t.Fatalf("reachability %q, want %q", info.Reachability, want)
			}
			if info.ReachableAddrs == nil || info.Relayed {
				t.Errorf("reachable_addrs %v relayed %v; want [] and false (no AutoNAT server, no relay)", info.ReachableAddrs, info.Relayed)
			}
		})
	}
}
