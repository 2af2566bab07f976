// Package nat tests dnode's NAT traversal behind real NATs, in Linux
// network namespaces the test builds itself:
//
//	         "internet" bridge, 7.0.0.0/24 (public-looking addresses)
//	seed 7.0.0.2    public node 7.0.0.3 (relay_service)
//	router r1 7.0.0.11             router r2 7.0.0.12
//	(nftables masquerade)          (nftables masquerade)
//	node n1 10.1.0.2               node n2 10.2.0.2
//
// Each node is the dnode binary (built into a temporary directory) run
// with `ip netns exec`, from a configuration the test writes; results are
// read with `dnode info --json` inside the namespace. Two runs:
//
//   - cone: plain masquerade (ports kept, endpoint-independent mapping):
//     n1 and n2 must end with a direct channel (DCUtR hole punching over
//     the public node's relay);
//   - symmetric: masquerade fully-random (a new port per destination):
//     hole punching cannot work, and n1 and n2 must end with a channel
//     relayed by the public node.
//
// Each run logs a RESULT line saying which kind of channel it got.
//
// The test runs only with -nat (go test ./integration/nat -nat), as
// root, with iproute2's `ip netns`; it installs nftables with apt-get when
// `nft` is missing. Otherwise it is skipped with the reason printed.
// Namespaces and processes are removed at cleanup, on failure too.
package nat
