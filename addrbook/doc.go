// Package addrbook is dnode's address book: DarkFi's hosts.rs on libp2p
// multiaddrs. It keeps the five coloured host lists, the host registry
// (the per-peer state machine that stops two tasks from using one host at
// once), the insert filter, outbound selection, Addrs-reply selection and
// the hostlist file.
//
// # Entries and lists
//
// An Entry is a full multiaddr ending in /p2p/<peer-id>, its peer and the
// time it was last seen (whole seconds). Lists are keyed by the multiaddr's
// binary form (an address is accepted only if its string form, which the
// hostlist file holds, parses back to the same bytes), so a peer may have
// several entries (one per transport). Entries of equal LastSeen are
// ordered by that key.
//
//	Grey  (cap 2000)   unverified: received from peers and seeds, demoted hosts
//	White (cap 5000)   passed a refinery handshake
//	Gold  (cap 1000)   we completed an outbound or direct handshake with it
//	Black (cap 10000)  banned for the process lifetime; never saved or shared
//	Dark  (cap 1000)   valid but not dialable by us; kept 24 h to propagate
//
// Every list is sorted by LastSeen, newest first, and truncated to its cap
// on every store or move, so the oldest entries are evicted. A peer is in
// at most one of Grey, White and Gold (a move carries all its entries), and
// a peer in Black is in no other list.
//
// Decode turns the addr protocol's binary entries into Entries, taking
// addresses the book holds, and the /p2p/ components of peers it holds
// or parsed recently (a cache of at most 4096), from the book instead of
// parsing them again: go-multiaddr formats every /p2p/ component in
// base58 to validate it. SelectRaw is Select as binary addresses, for
// the addr protocol's replies.
//
// # Insert filter
//
// Insert drops: addresses without a trailing /p2p/ component, our own peer
// ID, addresses equal (host, port and transport) to one of our own, seeds,
// manual peers, banned and refused peers, non-global IP ranges and the
// localhost names (unless Localnet), addresses already in Grey, White or
// Gold (without updating them), other addresses of a peer in White or Gold,
// entries beyond the per-source quota of Grey, and entries older than
// every entry of their full greylist bucket. A last_seen in the
// future is clamped to now (DarkFi trusts it, letting an attacker pin
// entries). Undialable addresses go to Dark instead of Grey: by default
// (Config.Dialer nil) everything but tcp, quic and ws, so /onion3
// addresses are dark unless the node has a proxy to reach them.
//
// # Greylist buckets
//
// Unless Localnet or FlatGreylist, the greylist is also split into
// GreyBuckets buckets of GreyBucketSize (Bitcoin Core's new table): an
// entry's bucket is H(secret, source netgroup, H(secret, address netgroup,
// source netgroup) mod SourceBuckets) mod GreyBuckets, with a secret drawn
// per Book (so per run; it is never written). The sources of one netgroup
// thus reach at most SourceBuckets buckets, however many identities they
// use, and an insert into a full bucket evicts that bucket's oldest entry
// (or is dropped if older than all of them), never an entry elsewhere.
// Entries without a source (loaded from the file, inserted locally, moved
// back to Grey after a dial) count their own netgroup as their source. The
// source's address comes from Config.Node.SourceAddr. Grey picks (Pick and
// BeginRefine) choose a random non-empty bucket first, then an entry in
// it, so a full bucket weighs as much as one holding a single entry.
//
// # Netgroup-first picks
//
// Unless Localnet or UniformPicks, Pick draws Gold and White entries
// netgroup first: a random netgroup among those the list holds, then a
// random entry of it (each list keeps an index by netgroup). Many
// identities in a few /16s then weigh as much as a few hosts there, which
// is what lets the outbound slots' diversity rule keep honest peers when
// an attacker whitelists hundreds of identities (Bitcoin Core gets the
// same effect from its bucketed tried table).
//
// # Registry
//
// Every peer has a State; a peer without a record is Free. Transitions
// follow DarkFi's table (see Transition). Pick, BeginRefine and
// RecheckWhite take a host atomically, and the outcome methods (Connected,
// Failed, Disconnected, Refined, Rechecked) apply the transition and the
// list move together. Unlike DarkFi since 436e5fe13, the refinery holds a
// real Refine state, so a Suspended host that passes refinement becomes
// White and can be dialled again.
//
// # Hostlist file
//
// Save writes "# dnode hostlist v1" and then one "colour\tmultiaddr\tunix"
// line per entry (dark, grey, white, gold; never black) atomically: a
// temporary file, fsync, rename, fsync of the directory. Load is strict:
// a file with any invalid line, or cut short, is moved aside and the node
// starts from its seeds.
//
// # Anchors file
//
// SaveAnchors writes "# dnode anchors v1" and then one
// "multiaddr\tunix_last_seen" line per anchor (the hosts the outbound
// slots held at stop), atomically like the hostlist. LoadAnchors reads it
// and removes it at once, as Bitcoin Core does with anchors.dat, so an
// anchor is tried at one start only; bad lines are skipped and counted.
// Take puts an anchor through the Connect state, after which the usual
// outcome methods apply.
//
// # Concurrency
//
// A Book is safe for concurrent use. One mutex guards the lists and the
// registry together (as DarkFi does since 436e5fe13), so every operation is
// atomic. Callbacks from Config other than Dialable are called without the
// lock held; Dialable and the skip function given to Pick are called with
// it held and must not call back into the Book. OnStore hooks run after
// Insert releases the lock. The package has no package-level mutable state.
package addrbook
