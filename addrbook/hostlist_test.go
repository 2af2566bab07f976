package addrbook

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// populated returns a book with entries in every list.
func populated(t *testing.T) (*Book, vclock) {
	b, mock := newTestBook(t, Config{})
	var es []Entry
	for i := range 40 {
		es = append(es, entryN(t, i, epoch.Add(-time.Duration(i)*time.Minute)))
	}
	es = append(es, Entry{Addr: mustMA(t, "/dns4/example.com/udp/9/quic-v1/p2p/"+testPeer(100).String()), LastSeen: epoch})
	es = append(es, Entry{Addr: mustMA(t, "/ip6/2600::1/tcp/9/ws/p2p/"+testPeer(101).String()), LastSeen: epoch})
	es = append(es, Entry{Addr: mustMA(t, "/ip4/8.8.8.8/udp/1/quic-v1/webtransport/p2p/"+testPeer(102).String()), LastSeen: epoch})
	b.Insert("", es)
	for range 5 {
		e, err := b.Pick(false, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Connected(e); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		e, err := b.BeginRefine()
		if err != nil {
			t.Fatal(err)
		}
		b.Refined(e, true)
	}
	b.Ban(testPeer(39), nil)
	for _, c := range []Color{Grey, White, Gold, Black, Dark} {
		if b.Len(c) == 0 {
			t.Fatalf("%s empty", c)
		}
	}
	return b, mock
}

func equalLists(t *testing.T, a, b *Book) {
	t.Helper()
	for _, c := range savedColors {
		x, y := a.Entries(c), b.Entries(c)
		if len(x) != len(y) {
			t.Fatalf("%s: %d vs %d entries", c, len(x), len(y))
		}
		for i := range x {
			if !x[i].Addr.Equal(y[i].Addr) || x[i].Peer != y[i].Peer || !x[i].LastSeen.Equal(y[i].LastSeen) {
				t.Fatalf("%s[%d]: %v vs %v", c, i, x[i], y[i])
			}
		}
	}
}

func TestHostlistRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := populated(t)
		dir := t.TempDir()
		path := filepath.Join(dir, "sub", "deeper", "hostlist.tsv")
		if err := b.Save(path); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("file mode %v", st.Mode().Perm())
		}
		if dst, _ := os.Stat(filepath.Dir(path)); dst.Mode().Perm() != 0o700 {
			t.Fatalf("dir mode %v", dst.Mode().Perm())
		}
		if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
			t.Fatalf("temporary file left: %v", err)
		}
		data, _ := os.ReadFile(path)
		if !bytes.HasPrefix(data, []byte(FileHeader+"\n")) {
			t.Fatal("no header")
		}
		if bytes.Contains(data, []byte("black")) {
			t.Fatal("black written")
		}
		// Order: dark, grey, white, gold.
		var order []string
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
			c := strings.SplitN(line, "\t", 2)[0]
			if len(order) == 0 || order[len(order)-1] != c {
				order = append(order, c)
			}
		}
		if strings.Join(order, ",") != "dark,grey,white,gold" {
			t.Fatalf("colour order %v", order)
		}

		b2 := New(Config{})
		res, err := b2.Load(path)
		if err != nil || res.Created || res.MovedAside != "" {
			t.Fatalf("load: %+v %v", res, err)
		}
		if res.Loaded != b.Len(Grey)+b.Len(White)+b.Len(Gold)+b.Len(Dark) {
			t.Fatalf("loaded %d", res.Loaded)
		}
		equalLists(t, b, b2)
		if b2.Len(Black) != 0 {
			t.Fatal("black loaded")
		}
		mustInvariants(t, b2)
		// Saving again gives the same bytes.
		if err := b2.Save(path); err != nil {
			t.Fatal(err)
		}
		again, _ := os.ReadFile(path)
		if !bytes.Equal(data, again) {
			t.Fatal("second save differs")
		}
	})
}

func TestHostlistMissingCreated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		path := filepath.Join(t.TempDir(), "new", "hosts.tsv")
		res, err := b.Load(path)
		if err != nil || !res.Created || res.Loaded != 0 {
			t.Fatalf("%+v %v", res, err)
		}
		data, err := os.ReadFile(path)
		if err != nil || string(data) != FileHeader+"\n" {
			t.Fatalf("created file %q %v", data, err)
		}
		res, err = b.Load(path)
		if err != nil || res.Created || res.MovedAside != "" {
			t.Fatalf("reload: %+v %v", res, err)
		}
	})
}

// Only a file that is not a hostlist (no or another header) is moved
// aside.
func TestHostlistInvalidMovedAside(t *testing.T) {
	t.Parallel()
	p := testPeer(1).String()
	good := "grey\t/ip4/8.8.8.8/tcp/1/p2p/" + p + "\t1699990000\n"
	cases := map[string]string{
		"no header":        good,
		"wrong header":     "# dnode hostlist v2\n" + good,
		"truncated header": FileHeader[:5],
		"binary":           "\x00\x01\x02garbage",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, _ := newTestBook(t, Config{})
				path := filepath.Join(t.TempDir(), "hosts.tsv")
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				res, err := b.Load(path)
				if err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf("%s.corrupt-%d", path, epoch.Unix())
				if res.MovedAside != want || res.Loaded != 0 {
					t.Fatalf("%+v, want moved to %s", res, want)
				}
				if moved, _ := os.ReadFile(want); string(moved) != content {
					t.Fatal("moved file differs")
				}
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Fatal("invalid file still in place")
				}
				for _, c := range savedColors {
					if b.Len(c) != 0 {
						t.Fatalf("%s not empty", c)
					}
				}
			})
		})
	}
}

// One bad line costs that line only: it is skipped and counted, the lines
// around it load, and a copy of the file is kept aside.
func TestHostlistBadLineSkipped(t *testing.T) {
	t.Parallel()
	p := testPeer(1).String()
	before := "grey\t/ip4/8.8.8.1/tcp/1/p2p/" + testPeer(7).String() + "\t1699990000\n"
	after := "white\t/ip4/8.8.8.2/tcp/1/p2p/" + testPeer(8).String() + "\t1699990001\n"
	bad := map[string]string{
		"black line":     "black\t/ip4/8.8.8.8/tcp/1/p2p/" + p + "\t1\n",
		"unknown colour": "blue\t/ip4/8.8.8.8/tcp/1/p2p/" + p + "\t1\n",
		"bad multiaddr":  "grey\t/ip4/8.8.8/tcp/1/p2p/" + p + "\t1\n",
		"no p2p":         "grey\t/ip4/8.8.8.8/tcp/1\t1\n",
		"bad last_seen":  "grey\t/ip4/8.8.8.8/tcp/1/p2p/" + p + "\tyesterday\n",
		"negative":       "grey\t/ip4/8.8.8.8/tcp/1/p2p/" + p + "\t-5\n",
		"extra field":    "grey\t/ip4/8.8.8.8/tcp/1/p2p/" + p + "\t1\tx\n",
		"two fields":     "grey\t/ip4/8.8.8.8/tcp/1/p2p/" + p + "\n",
		"binary":         "\x00\x01\x02garbage\n",
	}
	for name, line := range bad {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, _ := newTestBook(t, Config{})
				path := filepath.Join(t.TempDir(), "hosts.tsv")
				content := FileHeader + "\n" + before + line + after
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				res, err := b.Load(path)
				if err != nil {
					t.Fatal(err)
				}
				if res.Loaded != 2 || res.Skipped != 1 || res.MovedAside != "" {
					t.Fatalf("%+v, want 2 loaded and 1 skipped", res)
				}
				if b.Len(Grey) != 1 || b.Len(White) != 1 {
					t.Fatalf("grey %d white %d", b.Len(Grey), b.Len(White))
				}
				want := fmt.Sprintf("%s.bad-%d", path, epoch.Unix())
				if kept, _ := os.ReadFile(want); res.KeptAside != want || string(kept) != content {
					t.Fatalf("copy kept aside at %q, want %s with the original content", res.KeptAside, want)
				}
			})
		})
	}
}

// A file written with CRLF line ends (edited on Windows) loads whole.
func TestHostlistCRLF(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := populated(t)
		path := filepath.Join(t.TempDir(), "hosts.tsv")
		if err := b.Save(path); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
		if err := os.WriteFile(path, crlf, 0o600); err != nil {
			t.Fatal(err)
		}
		b2 := New(Config{})
		res, err := b2.Load(path)
		if err != nil || res.Skipped != 0 || res.MovedAside != "" {
			t.Fatalf("%+v %v", res, err)
		}
		equalLists(t, b, b2)
	})
}

// A blank line is harmless: ignored, not counted.
func TestHostlistBlankLinesIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBook(t, Config{})
		path := filepath.Join(t.TempDir(), "hosts.tsv")
		good := "grey\t/ip4/8.8.8.8/tcp/1/p2p/" + testPeer(1).String() + "\t1699990000\n"
		if err := os.WriteFile(path, []byte(FileHeader+"\n\n \r\n"+good+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		res, err := b.Load(path)
		if err != nil || res.Loaded != 1 || res.Skipped != 0 {
			t.Fatalf("%+v %v", res, err)
		}
	})
}

// Random bytes after the header never fail the load nor break the book;
// random bytes without it are moved aside.
func TestHostlistRandomGarbage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(3))
		dir := t.TempDir()
		for i := range 50 {
			data := make([]byte, 1+rng.Intn(4096))
			rng.Read(data)
			withHeader := i%2 == 0
			if withHeader {
				data = append([]byte(FileHeader+"\n"), data...)
			}
			path := filepath.Join(dir, fmt.Sprintf("g%d.tsv", i))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			b, _ := newTestBook(t, Config{})
			res, err := b.Load(path)
			if err != nil || (res.MovedAside == "") != withHeader {
				t.Fatalf("garbage %d: %+v %v", i, res, err)
			}
			mustInvariants(t, b)
		}
	})
}

// TestHostlistEveryCut loads a saved file cut at every byte length, as a
// truncated write would leave it: every complete line loads, and only the
// cut line is lost (a cut inside the header leaves no line to lose).
func TestHostlistEveryCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := populated(t)
		dir := t.TempDir()
		full := filepath.Join(dir, "full.tsv")
		if err := b.Save(full); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(full)
		if len(data) > 16<<10 {
			t.Fatalf("file unexpectedly large: %d", len(data))
		}
		path := filepath.Join(dir, "cut.tsv")
		header := len(FileHeader) + 1
		for n := 0; n <= len(data); n++ {
			if err := os.WriteFile(path, data[:n], 0o600); err != nil {
				t.Fatal(err)
			}
			b2 := New(Config{})
			res, err := b2.Load(path)
			if err != nil {
				t.Fatalf("cut %d: %v", n, err)
			}
			mustInvariants(t, b2)
			if n > 0 && n < header-1 { // header-1: the header whole, its newline cut
				if res.MovedAside == "" {
					t.Fatalf("cut %d inside the header not moved aside: %+v", n, res)
				}
				os.Remove(res.MovedAside)
				continue
			}
			if res.MovedAside != "" {
				t.Fatalf("cut %d moved aside", n)
			}
			complete := 0
			if n >= header {
				complete = bytes.Count(data[header:n], []byte("\n"))
			}
			partial := n >= header && data[n-1] != '\n'
			if res.Loaded != complete || res.Skipped != btoi(partial) {
				t.Fatalf("cut %d: loaded %d skipped %d, want %d and %d", n, res.Loaded, res.Skipped, complete, btoi(partial))
			}
			if res.KeptAside != "" {
				os.Remove(res.KeptAside)
			}
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A periodic save of an unchanged book writes nothing; a change is
// written.
func TestHostlistSaveSkipsUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, mock := populated(t)
		path := filepath.Join(t.TempDir(), "hosts.tsv")
		if err := b.Save(path); err != nil {
			t.Fatal(err)
		}
		st1, _ := os.Stat(path)
		if err := b.Save(path); err != nil {
			t.Fatal(err)
		}
		st2, _ := os.Stat(path)
		if !os.SameFile(st1, st2) {
			t.Fatal("unchanged book rewrote the file")
		}
		// Loaded and saved again unchanged: no write either.
		b2 := New(Config{})
		if _, err := b2.Load(path); err != nil {
			t.Fatal(err)
		}
		if err := b2.Save(path); err != nil {
			t.Fatal(err)
		}
		if st3, _ := os.Stat(path); !os.SameFile(st1, st3) {
			t.Fatal("book saved right after loading rewrote the file")
		}
		b2.Insert(testPeer(99), []Entry{{Addr: ma.StringCast("/ip4/9.9.9.9/tcp/1/p2p/" + testPeer(98).String()),
			Peer: testPeer(98), LastSeen: mock.Now()}})
		if err := b2.Save(path); err != nil {
			t.Fatal(err)
		}
		if st4, _ := os.Stat(path); os.SameFile(st1, st4) {
			t.Fatal("changed book not written")
		}
		// A file removed behind the book's back is written again.
		os.Remove(path)
		if err := b2.Save(path); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatal("removed file not written again")
		}
	})
}

func TestHostlistLoadRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		self := testPeer(1)
		// A flat greylist, so that the cap is the only limit (buckets: see
		// TestLoadFillsBuckets).
		b, mock := newTestBook(t, Config{Self: self, FlatGreylist: true})
		future := epoch.Add(time.Hour).Unix()
		old := epoch.Add(-DarkMaxAge - time.Hour).Unix()
		line := func(c string, i int, ip string, ts int64) string {
			return fmt.Sprintf("%s\t/ip4/%s/tcp/1/p2p/%s\t%d\n", c, ip, testPeer(i), ts)
		}
		var sb strings.Builder
		sb.WriteString(FileHeader + "\n")
		sb.WriteString(line("grey", 1, "8.8.8.1", 1))              // self: dropped
		sb.WriteString(line("grey", 2, "8.8.8.2", future))         // clamped
		sb.WriteString(line("dark", 3, "8.8.8.3", old))            // too old: dropped
		sb.WriteString(line("dark", 4, "8.8.8.4", epoch.Unix()))   // kept
		sb.WriteString(line("grey", 5, "10.0.0.5", 5))             // local: dropped
		sb.WriteString(line("grey", 6, "8.8.8.6", 6))              // also gold: dropped from grey
		sb.WriteString(line("gold", 6, "8.8.8.7", 7))              // kept
		sb.WriteString(line("white", 8, "8.8.8.8", 8))             // kept
		sb.WriteString(line("white", 8, "8.8.8.8", 9))             // duplicate: newest kept
		sb.WriteString(line("white", 9, "8.8.8.9", 0))             // epoch 0 is valid
		sb.WriteString(line("grey", 10, "8.8.8.10", 999999999999)) // large: clamped
		for i := range GreyMax + 10 {                              // over the cap
			sb.WriteString(line("grey", 1000+i, globalIP4(i), int64(1000+i)))
		}
		path := filepath.Join(t.TempDir(), "h.tsv")
		if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		res, err := b.Load(path)
		if err != nil || res.MovedAside != "" {
			t.Fatalf("%+v %v", res, err)
		}
		if _, ok := b.Contains(self); ok {
			t.Fatal("self loaded")
		}
		if c, _ := b.Contains(testPeer(6)); c != Gold || b.Len(Gold) != 1 {
			t.Fatal("peer in grey and gold not resolved to gold")
		}
		if b.Len(Dark) != 1 || b.Len(White) != 2 || b.Len(Grey) != GreyMax {
			t.Fatalf("dark %d white %d grey %d", b.Len(Dark), b.Len(White), b.Len(Grey))
		}
		if w := b.Entries(White); w[0].LastSeen.Unix() != 9 {
			t.Fatalf("duplicate kept %v", w[0].LastSeen)
		}
		g := b.Entries(Grey)
		if !g[0].LastSeen.Equal(mock.Now()) || !g[1].LastSeen.Equal(mock.Now()) {
			t.Fatal("future entries not clamped")
		}
		if _, ok := b.Contains(testPeer(5)); ok {
			t.Fatal("local address loaded")
		}
		mustInvariants(t, b)
	})
}
