// Package eclipse holds dnode's eclipse trial: a seeded simulation of one
// victim's address book and outbound slots under an attacker with many
// identities on a few /16s. It drives the real addrbook.Book (insert
// filter, greylist buckets, refinery picks, outbound picks, hostlist save
// and load, the anchors file) and the outbound slots' selection rule
// (sessions.SlotConflict); the network around them (who is online, what
// peers answer, dials) is simulated in steps of one refinery interval.
// The package has tests only; docs/security.md describes the trial and
// its figures.
//
//	go test ./integration/eclipse                       # the short trial (100 runs)
//	go test ./integration/eclipse -eclipse.full -v      # more runs, every defence switched off in turn
package eclipse
