// Package metrics exposes a dnode node's metrics to Prometheus.
//
// Metrics is the node's sessions.Observer and must exist before the node,
// which takes it as an option; the node is attached afterwards:
//
//	reg := metrics.NewRegistry() // Go runtime and process collectors
//	m := metrics.New(reg, nil)
//	n, err := dnode.New(s, dnode.WithObserver(m))
//	...
//	m.SetNode(n)
//	http.Handle("/metrics", metrics.Handler(reg)) // or rpc.Config.Metrics
//
// # What is there
//
// Counters fed by the observer as things happen:
//
//	dnode_messages_total{protocol,direction}          direction: in, out
//	dnode_message_bytes_total{protocol,direction}     encoded message bytes
//	dnode_messages_dropped_total{protocol,reason}     reason: send_queue, subscriber, other
//	dnode_handshake_duration_seconds{session,result}  histogram; result: ok, incompatible,
//	                                                  other_network, timeout, violation, error
//	dnode_bans_total{reason}                          reason: violation, version, manual, other
//
// protocol is a registered protocol's name (ping, addr, an application's),
// session a channel session kind (inbound, outbound, manual, seed, refine,
// direct); every label has a small, fixed set of values. A ban's reason is
// free text in the node; BanReason maps it onto the four values ("manual"
// is any reason starting with "manual", as p2p.ban over RPC gives).
//
// Read from the node at scrape time (absent before SetNode):
//
//	dnode_up                                   1 while running
//	dnode_node_info{network,version,peer_id}   constant 1
//	dnode_channels{session,direction}          started channels (every pair reported, 0 included)
//	dnode_hosts{list}                          grey, white, gold, black, dark
//	dnode_ping_rtt_seconds{stat}               min, mean, max of the channels' last ping RTT
//	                                           (absent while no channel has one)
//	dnode_ping_rtt_channels                    channels with a measured RTT
//	dnode_outbound_slots{state}                filled, empty (while running)
//	dnode_inbound_connections                  live inbound libp2p connections (while running)
//	dnode_broadcasts_rejected_total            Broadcast calls refused
//	dnode_hostlist_save_failures_total         hostlist saves that failed
//	dnode_hostlist_bad_lines_total             hostlist lines skipped by loads (malformed or truncated)
//	dnode_inbound_evictions_total              inbound channels evicted to admit a newcomer
//
// NewRegistry adds Go's runtime (go_*) and process (process_*) collectors
// and go-libp2p's resource manager collectors (libp2p_rcmgr_*: limits,
// connections, streams, memory, blocked resources). The resource manager
// reports into package-level collectors, so with several nodes in one
// process these series add them all up; only nodes built with
// dnode.WithLibp2pMetrics report into them (without it a node's resource
// manager skips that bookkeeping, which costs CPU on every connection and
// stream).
//
// go-libp2p's other metrics (swarm dials and connections, identify, event
// bus, ...) are registered on the same registry when the node is built
// with dnode.WithLibp2pMetrics(reg), as `dnode run` does.
//
// # What is not there
//
// Per-channel series (traffic or RTT per peer) are left out on purpose:
// peers come and go, and their labels would grow without bound; use the
// RPC's p2p.get_info for them.
package metrics
