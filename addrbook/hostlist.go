package addrbook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
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
	MovedAside string // the invalid file was renamed to this path
}

// Save writes the Dark, Grey, White and Gold lists to path (never Black)
// atomically: it writes path+".tmp" (mode 0600), fsyncs it, renames it
// over path and fsyncs the directory, creating missing parent directories
// with mode 0700. The file is FileHeader and then one line
// "colour\tmultiaddr\tunix_last_seen\n" per entry. Concurrent Saves are
// serialised.
func (b *Book) Save(path string) error {
	b.saveMu.Lock() // before encoding, so that the last Save writes the newest lists
	defer b.saveMu.Unlock()
	return writeAtomic(path, b.encode())
}

// encode returns the hostlist file for the book's current lists.
func (b *Book) encode() []byte {
	var buf bytes.Buffer
	buf.WriteString(FileHeader + "\n")
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range savedColors {
		for _, it := range b.lists[c].items {
			buf.WriteString(c.String())
			buf.WriteByte('\t')
			buf.WriteString(it.key)
			buf.WriteByte('\t')
			buf.WriteString(strconv.FormatInt(it.ts, 10))
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes()
}

// Load replaces the book's Dark, Grey, White and Gold lists with the
// hostlist at path. A missing file is created empty (Created). A file that
// is not entirely valid (wrong or missing header, any malformed line, an
// unknown colour or a "black" line, an address without /p2p/, a
// non-numeric last_seen, no final newline, over 16 MiB) is renamed to
// path+".corrupt-<unix time>" (MovedAside), a warning is logged, the book
// is left as it was and the error is nil, so the node starts from its
// seeds. Only I/O errors are returned.
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
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("read hostlist: %w", err)
	}
	n, perr := b.loadData(data)
	if perr != nil {
		aside, err := moveAside(path, b.clk.Now())
		if err != nil {
			return res, fmt.Errorf("hostlist %s is invalid (%v) and could not be moved aside: %w", path, perr, err)
		}
		b.log.Warn("hostlist invalid; moved aside, starting empty", "path", path, "moved_to", aside, "err", perr)
		res.MovedAside = aside
		return res, nil
	}
	res.Loaded = n
	return res, nil
}

// loadData parses a hostlist file and, if it is valid, installs it and
// returns how many entries it stored; otherwise the book is unchanged.
func (b *Book) loadData(data []byte) (int, error) {
	lists, err := parseHostlist(data)
	if err != nil {
		return 0, err
	}
	return b.replaceLists(lists), nil
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

// parseHostlist parses a whole file strictly. The items of each colour are
// returned in file order, with LastSeen not yet clamped.
func parseHostlist(data []byte) ([numColors][]*item, error) {
	var lists [numColors][]*item
	if len(data) > maxFileSize {
		return lists, errors.New("file too large")
	}
	body, ok := bytes.CutPrefix(data, []byte(FileHeader+"\n"))
	if !ok {
		return lists, errors.New("missing header")
	}
	if len(body) == 0 {
		return lists, nil
	}
	if body[len(body)-1] != '\n' {
		return lists, errors.New("truncated: no final newline")
	}
	lines := strings.Split(string(body[:len(body)-1]), "\n")
	for n, line := range lines {
		it, c, err := parseLine(line)
		if err != nil {
			return lists, fmt.Errorf("line %d: %w", n+2, err)
		}
		lists[c] = append(lists[c], it)
	}
	return lists, nil
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
	base := path + ".corrupt-" + strconv.FormatInt(now.Unix(), 10)
	aside := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if i > 1000 {
			return "", fmt.Errorf("no free name for %s", base)
		}
		aside = base + "." + strconv.Itoa(i)
	}
	return aside, os.Rename(path, aside)
}

// writeAtomic replaces path with data: temp file, fsync, rename, fsync of
// the directory.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Windows cannot sync directories.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
