package addrbook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dnode-p2p/dnode/internal/atomicfile"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Anchors (Bitcoin Core's anchors.dat): the hosts a node's outbound slots
// held when it stopped, dialed first at the next start and consumed when
// read, so that an attacker who fills the book while the node is down, or
// who waits for a restart, does not get to choose every outbound peer
// again, and a bad anchor is tried once only.

// AnchorsHeader is the first line of an anchors file.
const AnchorsHeader = "# dnode anchors v1"

// MaxAnchors bounds the anchors a file may hold: the largest
// outbound_connections.
const MaxAnchors = 1024

// maxAnchorsFile bounds what LoadAnchors reads (MaxAnchors lines need
// well under 256 KiB).
const maxAnchorsFile = 1 << 20

// ErrBadAnchors is returned, wrapped, by LoadAnchors for a file that is
// not an anchors file (no header, too large); it has been removed.
var ErrBadAnchors = errors.New("invalid anchors file")

// ErrFiltered is returned, wrapped with the reason (one of the Reason
// constants, or "undialable"), by Take for a host the insert filter
// would refuse.
var ErrFiltered = errors.New("host refused by the address filter")

// Anchors is what LoadAnchors found.
type Anchors struct {
	Entries []Entry // in file order, one per peer, at most MaxAnchors
	Skipped int     // lines that were not a valid anchor, duplicates and lines past MaxAnchors
}

// SaveAnchors writes entries to path atomically (a temporary file of mode
// 0600, fsync, rename, fsync of the directory; missing parents are made
// with mode 0700): AnchorsHeader, then "multiaddr\tunix_last_seen\n" per
// entry. Entries without a valid /p2p/ address, repeats of a peer and
// entries past MaxAnchors are left out. An empty list writes a file with
// the header alone.
func SaveAnchors(path string, entries []Entry) error {
	var buf bytes.Buffer
	buf.WriteString(AnchorsHeader + "\n")
	seen := make(map[peer.ID]bool)
	for _, e := range entries {
		it, err := outcomeItem(e)
		if err != nil || seen[it.peer] || len(seen) == MaxAnchors {
			continue
		}
		seen[it.peer] = true
		fmt.Fprintf(&buf, "%s\t%d\n", it.text(), max(0, e.LastSeen.Unix()))
	}
	return writeAtomic(path, buf.Bytes())
}

// LoadAnchors reads the anchors file at path and removes it (the removal
// is fsynced), whatever it holds, so that each anchor is tried at one
// start only. A missing file gives no anchors and no error. Lines may end
// in CRLF; a line that is not "multiaddr[\tunix_last_seen]" with a /p2p/
// address, a repeated peer, a line past MaxAnchors and a last line without
// its newline (cut short) are skipped and counted. A file without the
// header or over 1 MiB yields no anchors and an error wrapping
// ErrBadAnchors. If the file cannot be removed, LoadAnchors returns no
// anchors and the error, rather than anchors that would stick.
func LoadAnchors(path string) (Anchors, error) { return loadAnchors(path, os.Remove) }

// loadAnchors is LoadAnchors with the removal given, for tests.
func loadAnchors(path string, remove func(string) error) (Anchors, error) {
	var res Anchors
	data, err := readCapped(path, maxAnchorsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("read anchors: %w", err)
	}
	if err := remove(path); err != nil {
		return res, fmt.Errorf("consume anchors: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		return res, fmt.Errorf("consume anchors: %w", err)
	}
	if len(data) > maxAnchorsFile {
		return res, fmt.Errorf("%w: %s is over %d bytes", ErrBadAnchors, path, maxAnchorsFile)
	}
	lines := strings.Split(string(data), "\n")
	if strings.TrimSuffix(lines[0], "\r") != AnchorsHeader {
		return res, fmt.Errorf("%w: %s does not start with %q", ErrBadAnchors, path, AnchorsHeader)
	}
	last := len(lines) - 1
	if lines[last] != "" { // no final newline: the last line was cut short
		res.Skipped++
	}
	seen := make(map[peer.ID]bool)
	for _, line := range lines[1:last] {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		e, ok := parseAnchor(line)
		if !ok || seen[e.Peer] || len(res.Entries) == MaxAnchors {
			res.Skipped++
			continue
		}
		seen[e.Peer] = true
		res.Entries = append(res.Entries, e)
	}
	return res, nil
}

// parseAnchor parses "multiaddr[\tunix_last_seen]".
func parseAnchor(line string) (Entry, bool) {
	addr, ts, hasTS := strings.Cut(line, "\t")
	it, err := parseAddrField(addr)
	if err != nil {
		return Entry{}, false
	}
	if hasTS {
		if len(ts) == 0 || len(ts) > 18 || strings.Trim(ts, "0123456789") != "" {
			return Entry{}, false
		}
		it.ts, _ = strconv.ParseInt(ts, 10, 64) // at most 18 digits: fits
	}
	return Entry{Addr: it.addr, Peer: it.peer, LastSeen: time.Unix(it.ts, 0)}, true
}

// readCapped reads path, at most limit+1 bytes.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// parseAddrField parses a full multiaddr ending in /p2p/<id>.
func parseAddrField(s string) (*item, error) {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, err
	}
	it, ok := newItem(a, "")
	if !ok {
		return nil, ErrInvalidAddr
	}
	return it, nil
}

// Take takes the host of e for a dial, as Pick does for the host it
// picks: its peer moves to Connect, and Connected, Failed or Release
// finish it. It is for hosts chosen outside the lists, such as anchors; e
// need not be in any list (Connected stores it in Gold, Failed in Grey).
// Take refuses what Insert would filter out (our own ID or address, a
// seed, a manual peer, a banned or refused peer, a non-global host unless
// Localnet, an undialable address), wrapping ErrFiltered with the reason,
// and a peer that is not Free, wrapping ErrStateBlocked. It calls the
// Config callbacks without the lock held.
func (b *Book) Take(e Entry) error {
	it, err := outcomeItem(e)
	if err != nil {
		return err
	}
	own, manual := b.filterSets()
	c := b.classify(Entry{Addr: it.addr, Peer: it.peer, LastSeen: e.LastSeen}, b.nowUnix(), own, manual)
	if c.reason == "" && !c.dialable {
		c.reason = "undialable"
	}
	if c.reason != "" {
		return fmt.Errorf("%w: %s: %s", ErrFiltered, it.text(), c.reason)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lists[Black].hasPeer(it.peer) {
		return fmt.Errorf("%w: %s: %s", ErrFiltered, it.text(), ReasonBlack)
	}
	return b.transitionLocked(it.peer, Connect)
}
