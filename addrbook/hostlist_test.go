package addrbook

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

// populated returns a book with entries in every list.
func populated(t *testing.T) (*Book, *clock.Mock) {
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
	b, mock := populated(t)
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

	b2 := New(Config{Clock: mock})
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
}

func TestHostlistMissingCreated(t *testing.T) {
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
}

func TestHostlistInvalidMovedAside(t *testing.T) {
	p := testPeer(1).String()
	good := "grey\t/ip4/8.8.8.8/tcp/1/p2p/" + p + "\t1699990000\n"
	cases := map[string]string{
		"no header":        good,
		"wrong header":     "# dnode hostlist v2\n" + good,
		"no final newline": FileHeader + "\n" + strings.TrimSuffix(good, "\n"),
		"black line":       FileHeader + "\n" + strings.Replace(good, "grey", "black", 1),
		"unknown colour":   FileHeader + "\n" + strings.Replace(good, "grey", "blue", 1),
		"bad multiaddr":    FileHeader + "\ngrey\t/ip4/8.8.8/tcp/1/p2p/" + p + "\t1\n",
		"no p2p":           FileHeader + "\ngrey\t/ip4/8.8.8.8/tcp/1\t1\n",
		"bad last_seen":    FileHeader + "\ngrey\t/ip4/8.8.8.8/tcp/1/p2p/" + p + "\tyesterday\n",
		"negative":         FileHeader + "\ngrey\t/ip4/8.8.8.8/tcp/1/p2p/" + p + "\t-5\n",
		"empty line":       FileHeader + "\n\n" + good,
		"extra field":      FileHeader + "\n" + strings.TrimSuffix(good, "\n") + "\tx\n",
		"crlf":             FileHeader + "\n" + strings.TrimSuffix(good, "\n") + "\r\n",
		"binary":           "\x00\x01\x02garbage",
		"empty":            "",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
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
	}
}

func TestHostlistRandomGarbage(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	dir := t.TempDir()
	for i := range 50 {
		data := make([]byte, rng.Intn(4096))
		rng.Read(data)
		if i%2 == 0 {
			data = append([]byte(FileHeader+"\n"), data...)
		}
		path := filepath.Join(dir, fmt.Sprintf("g%d.tsv", i))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		b, _ := newTestBook(t, Config{})
		res, err := b.Load(path)
		if err != nil || res.MovedAside == "" || res.Loaded != 0 {
			t.Fatalf("garbage %d: %+v %v", i, res, err)
		}
	}
}

// TestHostlistEveryCut loads a saved file cut at every byte length: each
// cut either loads (a prefix that ends at a line boundary is a valid
// hostlist) or is moved aside; nothing panics.
func TestHostlistEveryCut(t *testing.T) {
	b, mock := populated(t)
	dir := t.TempDir()
	full := filepath.Join(dir, "full.tsv")
	if err := b.Save(full); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(full)
	if len(data) > 16<<10 {
		t.Fatalf("file unexpectedly large: %d", len(data))
	}
	loaded, aside := 0, 0
	path := filepath.Join(dir, "cut.tsv")
	for n := 0; n <= len(data); n++ {
		if err := os.WriteFile(path, data[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		b2 := New(Config{Clock: mock})
		res, err := b2.Load(path)
		if err != nil {
			t.Fatalf("cut %d: %v", n, err)
		}
		validPrefix := n >= len(FileHeader)+1 && data[n-1] == '\n'
		switch {
		case res.MovedAside != "":
			aside++
			if validPrefix {
				t.Fatalf("cut %d at a line boundary moved aside", n)
			}
			os.Remove(res.MovedAside)
		default:
			loaded++
			if !validPrefix {
				t.Fatalf("cut %d mid-line loaded", n)
			}
			want := bytes.Count(data[len(FileHeader)+1:n], []byte("\n"))
			if res.Loaded != want {
				t.Fatalf("cut %d: loaded %d of %d lines", n, res.Loaded, want)
			}
		}
		mustInvariants(t, b2)
	}
	if loaded == 0 || aside == 0 {
		t.Fatalf("loaded %d, moved aside %d", loaded, aside)
	}
}

func TestHostlistLoadRules(t *testing.T) {
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
}
