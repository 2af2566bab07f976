package addrbook

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestAnchorsSaveLoadConsume(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "hostlist.anchors.tsv")
	var es []Entry
	for i := range 3 {
		es = append(es, entryN(t, i, epoch.Add(-time.Duration(i)*time.Minute)))
	}
	// A repeat of a peer and an entry without a peer are left out.
	es = append(es, es[0], Entry{Addr: mustMA(t, "/ip4/1.2.3.4/tcp/1")})
	if err := SaveAnchors(path, es); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("temporary file left behind")
	}
	got, err := LoadAnchors(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != 3 || got.Skipped != 0 {
		t.Fatalf("loaded %d anchors, %d skipped", len(got.Entries), got.Skipped)
	}
	for i, e := range got.Entries {
		if !e.Addr.Equal(es[i].Addr) || e.Peer != es[i].Peer || !e.LastSeen.Equal(es[i].LastSeen) {
			t.Fatalf("anchor %d: %v, want %v", i, e, es[i])
		}
	}
	// Consumed: the file is gone, and a second load finds nothing.
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("anchors file not removed: %v", err)
	}
	again, err := LoadAnchors(path)
	if err != nil || len(again.Entries) != 0 {
		t.Fatalf("second load: %d anchors, %v", len(again.Entries), err)
	}
	// An empty list is a header alone.
	if err := SaveAnchors(path, nil); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != AnchorsHeader+"\n" {
		t.Fatalf("empty anchors file %q", data)
	}
}

func TestAnchorsTolerantParse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := func(i int) string { return entryN(t, i, epoch).Addr.String() }
	cases := []struct {
		name    string
		body    string
		want    int // anchors
		skipped int
		bad     bool
	}{
		{"crlf", AnchorsHeader + "\r\n" + p(1) + "\t5\r\n" + p(2) + "\r\n", 2, 0, false},
		{"bad lines", AnchorsHeader + "\n" + p(1) + "\n" + "garbage\n" + "/ip4/1.2.3.4/tcp/1\n" +
			p(2) + "\tnotanumber\n" + p(3) + "\t1\textra\n\n" + p(4) + "\n", 2, 4, false},
		{"duplicate peer", AnchorsHeader + "\n" + p(1) + "\n" + p(1) + "\t9\n", 1, 1, false},
		{"cut short", AnchorsHeader + "\n" + p(1) + "\n" + p(2)[:20], 1, 1, false},
		{"cut inside the last_seen", AnchorsHeader + "\n" + p(1) + "\t17000", 0, 1, false},
		{"header only", AnchorsHeader + "\n", 0, 0, false},
		{"no header", p(1) + "\n", 0, 0, true},
		{"empty", "", 0, 0, true},
		{"other version", "# dnode anchors v9\n" + p(1) + "\n", 0, 0, true},
	}
	for i, c := range cases {
		path := filepath.Join(dir, fmt.Sprintf("a%d", i))
		if err := os.WriteFile(path, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := LoadAnchors(path)
		if c.bad != errors.Is(err, ErrBadAnchors) {
			t.Errorf("%s: err %v", c.name, err)
		}
		if !c.bad && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if len(got.Entries) != c.want || got.Skipped != c.skipped {
			t.Errorf("%s: %d anchors, %d skipped; want %d, %d", c.name, len(got.Entries), got.Skipped, c.want, c.skipped)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: file not consumed", c.name)
		}
	}
	// Past MaxAnchors, lines are skipped.
	var sb strings.Builder
	sb.WriteString(AnchorsHeader + "\n")
	for i := range MaxAnchors + 5 {
		sb.WriteString(p(i) + "\n")
	}
	path := filepath.Join(dir, "many")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadAnchors(path)
	if err != nil || len(got.Entries) != MaxAnchors || got.Skipped != 5 {
		t.Fatalf("many: %d anchors, %d skipped, %v", len(got.Entries), got.Skipped, err)
	}
	// Too large: refused and removed.
	path = filepath.Join(dir, "huge")
	if err := os.WriteFile(path, append([]byte(AnchorsHeader+"\n"), make([]byte, maxAnchorsFile)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadAnchors(path); !errors.Is(err, ErrBadAnchors) || len(got.Entries) != 0 {
		t.Fatalf("huge: %d anchors, %v", len(got.Entries), err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("huge file not consumed")
	}
}

// A file that cannot be removed gives no anchors, so that none sticks.
func TestAnchorsNotRemovableGiveNone(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "anchors")
	if err := SaveAnchors(path, []Entry{entryN(t, 1, epoch)}); err != nil {
		t.Fatal(err)
	}
	denied := func(string) error { return fs.ErrPermission }
	got, err := loadAnchors(path, denied)
	if !errors.Is(err, fs.ErrPermission) || len(got.Entries) != 0 {
		t.Fatalf("unremovable file: %d anchors, err %v", len(got.Entries), err)
	}
}

// Take runs an anchor through the same states as a pick: Connect, then
// Connected (to Gold, stored if missing) or Failed (to Grey, suspended).
func TestTake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		self := testPeer(-1)
		b, _ := newTestBook(t, Config{Self: self, Seeds: []peer.ID{testPeer(-2)}})
		a := entryN(t, 1, epoch.Add(-time.Hour))
		if err := b.Take(a); err != nil {
			t.Fatal(err)
		}
		if b.State(a.Peer) != Connect {
			t.Fatalf("taken anchor in state %s", b.State(a.Peer))
		}
		if err := b.Take(a); !errors.Is(err, ErrStateBlocked) {
			t.Fatalf("second take: %v", err)
		}
		if _, err := b.Pick(true, true, nil); !errors.Is(err, ErrNoHost) {
			t.Fatalf("a taken anchor can be picked: %v", err)
		}
		if err := b.Connected(a); err != nil {
			t.Fatal(err)
		}
		if c, ok := b.Contains(a.Peer); !ok || c != Gold || b.State(a.Peer) != Connected {
			t.Fatalf("connected anchor in %s (%v), state %s", c, ok, b.State(a.Peer))
		}

		f := entryN(t, 2, epoch.Add(-time.Hour))
		if err := b.Take(f); err != nil {
			t.Fatal(err)
		}
		if err := b.Failed(f); err != nil {
			t.Fatal(err)
		}
		if c, ok := b.Contains(f.Peer); !ok || c != Grey || b.State(f.Peer) != Suspend {
			t.Fatalf("failed anchor in %s (%v), state %s", c, ok, b.State(f.Peer))
		}

		// Refused like an insert.
		banned := entryN(t, 3, epoch)
		b.Ban(banned.Peer, nil)
		for name, e := range map[string]Entry{
			"self":       tcpEntry(t, globalIP4(10), self, epoch),
			"seed":       tcpEntry(t, globalIP4(11), testPeer(-2), epoch),
			"banned":     banned,
			"local":      tcpEntry(t, "127.0.0.1", testPeer(12), epoch),
			"undialable": {Addr: mustMA(t, "/ip4/8.8.8.8/udp/1/quic-v1/webtransport/p2p/"+testPeer(13).String()), Peer: testPeer(13)},
		} {
			if err := b.Take(e); !errors.Is(err, ErrFiltered) {
				t.Errorf("%s: %v", name, err)
			}
			if b.State(e.Peer) == Connect {
				t.Errorf("%s: taken", name)
			}
		}
		if err := b.Take(Entry{Addr: mustMA(t, "/ip4/1.2.3.4/tcp/1")}); !errors.Is(err, ErrInvalidAddr) {
			t.Fatalf("no peer: %v", err)
		}
		mustInvariants(t, b)
	})
}
