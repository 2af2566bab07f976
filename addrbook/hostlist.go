package addrbook

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/internal/atomicfile"
)

// FileHeader is the first line of a hostlist file.
const FileHeader = "# dnode hostlist v1"

// maxFileSize bounds what Load reads; a larger file is treated as corrupt.
// Full lists need well under 2 MiB.
const maxFileSize = 16 << 20

// savedColors are the lists written to the file, in file order.
var savedColors = [...]Color{Dark, Grey, White, Gold}

// LoadResult describes what Load did.
type LoadResult struct {
	Loaded     int    // entries stored in the book
	Created    bool   // the file was missing and an empty one was created
	MovedAside string // the file was not a hostlist and was renamed to this path
	// Skipped counts the lines that were skipped: malformed lines and an
	// unterminated (truncated) last line. The other lines are loaded.
	Skipped int
	// KeptAside is a copy of the file as it was, made when lines were
	// skipped (the next Save drops them from the file).
	KeptAside string
}

// Save writes the Dark, Grey, White and Gold lists to path (never Black)
// atomically: it writes a temporary file in path's directory (mode 0600),
// fsyncs it, renames it over path and fsyncs the directory, creating
// missing parent directories with mode 0700. The file is FileHeader and
// then one line "colour\tmultiaddr\tunix_last_seen\n" per entry.
// Concurrent Saves are serialised.
//
// When the file already holds exactly these lists (this book loaded or
// saved it, and it still exists), Save writes nothing: a periodic save of
// an unchanged book neither rewrites nor fsyncs the file.
func (b *Book) Save(path string) error {
	b.saveMu.Lock() // before encoding, so that the last Save writes the newest lists
	defer b.saveMu.Unlock()
	data := b.encode()
	sum := sha256.Sum256(data)
	if b.lastSaved != nil && *b.lastSaved == sum && b.lastPath == path {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
	}
	b.lastSaved = nil
	if err := writeAtomic(path, data); err != nil {
		return err
	}
	b.remember(path, data)
	return nil
}

// remember records that the file at path holds data. saveMu.
func (b *Book) remember(path string, data []byte) {
	sum := sha256.Sum256(data)
	b.lastSaved, b.lastPath = &sum, path
}

// encode returns the hostlist file for the book's current lists.
func (b *Book) encode() []byte {
	// The lines are formatted outside the lock: an address's text form
	// (base58 for the peer ID) is the costly part.
	type line struct {
		c  Color
		a  ma.Multiaddr
		ts int64
	}
	var lines []line
	b.mu.Lock()
	for _, c := range savedColors {
		for _, it := range b.lists[c].items {
			lines = append(lines, line{c, it.addr, it.ts})
		}
	}
	b.mu.Unlock()
	var buf bytes.Buffer
	buf.WriteString(FileHeader + "\n")
	for _, l := range lines {
		buf.WriteString(l.c.String())
		buf.WriteByte('\t')
		buf.WriteString(l.a.String())
		buf.WriteByte('\t')
		buf.WriteString(strconv.FormatInt(l.ts, 10))
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// Load replaces the book's Dark, Grey, White and Gold lists with the
// hostlist at path. A missing file is created empty (Created); an empty
// (0-byte) file is an empty hostlist.
//
// Load is tolerant: lines may end in "\n" or "\r\n"; blank lines are
// ignored; a malformed line (not three tab-separated fields, an unknown
// colour or a "black" line, an address without /p2p/, a non-numeric
// last_seen) is skipped, logged and counted in Skipped, and the other
// lines are loaded; a last line without a final newline (a truncated
// write) is skipped and counted too, so it is the only line lost. When
// lines were skipped, a copy of the file is kept at
// path+".bad-<unix time>" (KeptAside) before the next Save drops them.
//
// Only a file that is not a hostlist at all (a first line other than
// FileHeader, or over 16 MiB) is renamed to path+".corrupt-<unix time>"
// (MovedAside) with a warning; the book is then left as it was and the
// error is nil, so the node starts from its seeds. Only I/O errors are
// returned.
//
// Loaded entries are not filtered except that our own peer ID, banned
// peers and (unless Localnet) non-global hosts are dropped; a future
// last_seen is clamped to now, dark entries older than DarkMaxAge are
// dropped, a peer listed in several of Grey, White and Gold keeps only its
// best list (Gold, then White), and each list keeps its newest cap
// entries. Load never panics.
func (b *Book) Load(path string) (LoadResult, error) {
	b.saveMu.Lock()
	defer b.saveMu.Unlock()
	var res LoadResult
	data, err := readLimited(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := writeAtomic(path, []byte(FileHeader+"\n")); err != nil {
			return res, fmt.Errorf("create hostlist: %w", err)
		}
		res.Created = true
		b.remember(path, []byte(FileHeader+"\n"))
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("read hostlist: %w", err)
	}
	loaded, bad, perr := b.loadData(data)
	if perr != nil {
		aside, err := moveAside(path, time.Now())
		if err != nil {
			return res, fmt.Errorf("hostlist %s is invalid (%v) and could not be moved aside: %w", path, perr, err)
		}
		b.log.Warn("hostlist invalid; moved aside, starting empty", "path", path, "moved_to", aside, "err", perr)
		res.MovedAside = aside
		return res, nil
	}
	res.Skipped = len(bad)
	if len(bad) > 0 {
		for i, e := range bad {
			if i == maxLoggedBadLines {
				b.log.Warn("more hostlist lines skipped", "path", path, "more", len(bad)-i)
				break
			}
			b.log.Warn("hostlist line skipped", "path", path, "line", e.line, "err", e.err)
		}
		kept, err := keepAside(path, data, time.Now())
		if err != nil {
			b.log.Warn("hostlist: could not keep a copy of the file with skipped lines", "path", path, "err", err)
		}
		res.KeptAside = kept
	}
	res.Loaded = loaded
	b.remember(path, data) // Save compares what it would write with it
	return res, nil
}

// loadData parses a hostlist file and, unless it is not a hostlist at
// all (then the book is unchanged), installs its valid lines; it returns
// how many entries it stored and the lines it skipped.
func (b *Book) loadData(data []byte) (int, []badLine, error) {
	lists, bad, err := parseHostlist(data)
	if err != nil {
		return 0, nil, err
	}
	return b.replaceLists(lists), bad, nil
}

// maxLoggedBadLines bounds the skipped lines Load logs one by one.
const maxLoggedBadLines = 10

// badLine is a skipped line: its number (the header is line 1) and why.
type badLine struct {
	line int
	err  error
}

// readLimited reads path, at most maxFileSize+1 bytes (parseHostlist
// rejects a file longer than maxFileSize).
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize+1))
}

// parseHostlist parses a file: the items of each colour in file order,
// with LastSeen not yet clamped, and the lines skipped. The error is set
// only when the file is not a hostlist (too large, wrong first line).
func parseHostlist(data []byte) (lists [numColors][]*item, bad []badLine, err error) {
	if len(data) > maxFileSize {
		return lists, nil, errors.New("file too large")
	}
	if len(data) == 0 {
		return lists, nil, nil
	}
	header, body, _ := bytes.Cut(data, []byte("\n"))
	if string(bytes.TrimSuffix(header, []byte("\r"))) != FileHeader {
		return lists, nil, errors.New("missing header")
	}
	for n := 2; len(body) > 0; n++ {
		line, rest, terminated := bytes.Cut(body, []byte("\n"))
		body = rest
		if !terminated {
			bad = append(bad, badLine{n, errors.New("truncated: no final newline")})
			break
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		it, c, err := parseLine(string(line))
		if err != nil {
			bad = append(bad, badLine{n, err})
			continue
		}
		lists[c] = append(lists[c], it)
	}
	return lists, bad, nil
}

func parseLine(line string) (*item, Color, error) {
	f := strings.Split(line, "\t")
	if len(f) != 3 {
		return nil, 0, fmt.Errorf("want 3 tab-separated fields, have %d", len(f))
	}
	c, err := ParseColor(f[0])
	if err != nil || c == Black {
		return nil, 0, fmt.Errorf("bad colour %q", f[0])
	}
	a, err := ma.NewMultiaddr(f[1])
	if err != nil {
		return nil, 0, fmt.Errorf("bad multiaddr: %v", err)
	}
	it, ok := newItem(a, "")
	if !ok {
		return nil, 0, fmt.Errorf("multiaddr %q does not end in /p2p/<id>", f[1])
	}
	if len(f[2]) == 0 || len(f[2]) > 18 || strings.Trim(f[2], "0123456789") != "" {
		return nil, 0, fmt.Errorf("bad last_seen %q", f[2])
	}
	it.ts, _ = strconv.ParseInt(f[2], 10, 64) // at most 18 digits: fits
	return it, c, nil
}

// replaceLists installs parsed lists (see Load for the rules) and returns
// how many entries it stored.
func (b *Book) replaceLists(parsed [numColors][]*item) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.nowUnix()
	for _, c := range savedColors {
		b.lists[c] = newHostList(listCaps[c])
	}
	clear(b.srcCount)
	keep := func(it *item) bool {
		return it.peer != b.cfg.Self && !b.lists[Black].hasPeer(it.peer) &&
			(b.cfg.Localnet || !isLocal(stripP2P(it.addr)))
	}
	owner := make(map[peer.ID]Color) // the best of Gold, White, Grey per peer
	for _, c := range [...]Color{Gold, White, Grey} {
		for _, it := range parsed[c] {
			if _, seen := owner[it.peer]; !seen && keep(it) {
				owner[it.peer] = c
			}
		}
	}
	for _, c := range savedColors {
		l := b.lists[c]
		for _, it := range parsed[c] {
			if !keep(it) || (c != Dark && owner[it.peer] != c) {
				continue
			}
			it.ts = clampTS(it.ts, now)
			if old := l.get(it.key); old != nil {
				if old.ts >= it.ts {
					continue
				}
				b.removeLocked(c, it.key)
			}
			b.addLocked(c, it)
		}
	}
	b.refreshDarkLocked(now)
	n := 0
	for _, c := range savedColors {
		n += b.lists[c].len()
	}
	return n
}

// moveAside renames an invalid file to path+".corrupt-<unix>" (with a
// numeric suffix if that exists) and returns the new path.
func moveAside(path string, now time.Time) (string, error) {
	aside, err := freeName(path+".corrupt-", now)
	if err != nil {
		return "", err
	}
	return aside, os.Rename(path, aside)
}

// keepAside writes a copy of data, the file at path, to
// path+".bad-<unix>" (with a numeric suffix if that exists).
func keepAside(path string, data []byte, now time.Time) (string, error) {
	kept, err := freeName(path+".bad-", now)
	if err != nil {
		return "", err
	}
	return kept, writeAtomic(kept, data)
}

// freeName returns prefix+<unix time>, with a numeric suffix when that
// exists.
func freeName(prefix string, now time.Time) (string, error) {
	base := prefix + strconv.FormatInt(now.Unix(), 10)
	name := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			return name, nil
		}
		if i > 1000 {
			return "", fmt.Errorf("no free name for %s", base)
		}
		name = base + "." + strconv.Itoa(i)
	}
}

// writeAtomic replaces path with data (see internal/atomicfile).
func writeAtomic(path string, data []byte) error {
	return atomicfile.Write(path, data, atomicfile.Options{})
}
