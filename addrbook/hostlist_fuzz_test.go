package addrbook

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// genLine is one line FuzzHostlistLines wrote, and what Load must make
// of it.
type genLine struct {
	n       int // line number (the header is 1)
	text    string
	corrupt bool // malformed: must be skipped and counted
	// For a well-formed line:
	color Color
	key   string // the address in its canonical form
	peer  peer.ID
	ts    int64
	local bool // a non-global host
}

// hostlistGen builds hostlist lines from fuzz bytes; past the input's
// end it reads zeros.
type hostlistGen struct {
	in    []byte
	peers []peer.ID
}

func (g *hostlistGen) byte() int {
	if len(g.in) == 0 {
		return 0
	}
	b := g.in[0]
	g.in = g.in[1:]
	return int(b)
}

func (g *hostlistGen) u16() int { return g.byte()<<8 | g.byte() }

// host returns a multiaddr host part: IPv4 and IPv6 addresses from the
// input (global, private, loopback and link-local alike) or a DNS name.
func (g *hostlistGen) host() string {
	switch g.byte() % 5 {
	case 0, 1:
		a := [4]byte{byte(g.byte()), byte(g.byte()), byte(g.byte()), byte(g.byte())}
		if g.byte()%2 == 0 {
			a[0] = byte(11 + a[0]%80) // mostly global
		}
		return "/ip4/" + netip.AddrFrom4(a).String()
	case 2, 3:
		var a [16]byte
		switch g.byte() % 4 {
		case 0:
			a[0], a[1] = 0x26, 0x00 // global unicast
		case 1:
			a[0], a[1] = 0xfe, 0x80 // link-local
		case 2:
			a[10], a[11] = 0xff, 0xff // IPv4-mapped
		}
		for i := 2; i < 16; i += 2 + g.byte()%6 {
			a[i] = byte(g.byte())
		}
		return "/ip6/" + netip.AddrFrom16(a).String()
	default:
		names := []string{"a.org", "localhost", "node.example.com", "x.localhost", "b-1.net"}
		kind := []string{"dns", "dns4", "dns6"}[g.byte()%3]
		return "/" + kind + "/" + names[g.byte()%len(names)]
	}
}

// transport returns a transport part on host.
func (g *hostlistGen) transport() string {
	port := strconv.Itoa(g.u16())
	switch g.byte() % 5 {
	case 0:
		return "/tcp/" + port
	case 1:
		return "/udp/" + port + "/quic-v1"
	case 2:
		return "/tcp/" + port + "/ws"
	case 3:
		return "/udp/" + port + "/quic-v1/webtransport"
	default:
		return "/tcp/" + port + "/tls/ws"
	}
}

// lastSeen returns a last_seen around epoch: past, future, zero, the
// largest 18-digit value.
func (g *hostlistGen) lastSeen() int64 {
	switch g.byte() % 6 {
	case 0:
		return 0
	case 1:
		return epoch.Unix() + int64(g.u16()) // future: clamped
	case 2:
		return 999_999_999_999_999_999
	case 3:
		return epoch.Unix() - int64(g.u16())*60 // up to 45 days old
	default:
		return epoch.Unix() - int64(g.byte())*30 // fresh
	}
}

// corrupt returns a malformed version of the well-formed line
// colour/addr/ts, which Load must skip.
func (g *hostlistGen) corrupt(color, addr, ts, tr string) string {
	switch g.byte() % 12 {
	case 0:
		return color + "\t" + addr // two fields
	case 1:
		return color + "\t" + addr + "\t" + ts + "\textra"
	case 2:
		return "black\t" + addr + "\t" + ts // black is never loaded
	case 3:
		return []string{"purple", "Grey", "", " grey"}[g.byte()%4] + "\t" + addr + "\t" + ts
	case 4:
		return color + "\t" + tr + "\t" + ts // no /p2p/
	case 5:
		return color + "\t" + addr + "\t" + []string{"12a", "-5", "", "1234567890123456789", " 1", "0x10"}[g.byte()%6]
	case 6:
		return color + "\t" + "/ip4/300.1.1.1/tcp/1/p2p/" + g.peers[0].String() + "\t" + ts
	case 7:
		return color + "\t" + strings.Replace(addr, "/p2p/", "/tcpx/", 1) + "\t" + ts
	case 8:
		return color + " " + addr + " " + ts // spaces, not tabs
	case 9:
		return color + "\t" + tr + "/p2p/QmNotAPeerID\t" + ts
	case 10:
		// Bytes of the input, made visible so the line is not blank.
		raw := make([]byte, g.byte()%24)
		for i := range raw {
			raw[i] = byte(g.byte())
			if raw[i] == '\n' || raw[i] == '\t' {
				raw[i] = '#'
			}
		}
		return "x" + string(raw)
	default:
		return color + "\t" + addr[:len(addr)/2] + "\t" + ts // cut multiaddr
	}
}

// generate builds a hostlist file from the input: a header, then up to 24
// lines, most well formed (any colour but black, an address built from
// parts ending in /p2p/ with one of a few peers, a last_seen), some
// corrupted, some blank, with LF or CRLF endings, the last line perhaps
// cut (no final newline).
func (g *hostlistGen) generate() ([]byte, []genLine) {
	flags := g.byte()
	var buf bytes.Buffer
	buf.WriteString(FileHeader)
	eol := func() {
		if g.byte()%4 == 0 {
			buf.WriteByte('\r')
		}
		buf.WriteByte('\n')
	}
	eol()
	var lines []genLine
	n := g.byte() % 25
	lineNo := 1
	for i := range n {
		lineNo++
		if g.byte()%10 == 0 {
			buf.WriteString([]string{"", " ", "\t ", " \t"}[g.byte()%4]) // blank: ignored
			eol()
			continue
		}
		c := savedColors[g.byte()%len(savedColors)]
		p := g.peers[g.byte()%len(g.peers)]
		tr := g.host() + g.transport()
		addr := tr + "/p2p/" + p.String()
		ts := g.lastSeen()
		l := genLine{n: lineNo, color: c, peer: p, ts: ts}
		if g.byte()%8 == 0 {
			l.text, l.corrupt = g.corrupt(c.String(), addr, strconv.FormatInt(ts, 10), tr), true
		} else {
			a, err := ma.NewMultiaddr(addr)
			if err != nil {
				panic(fmt.Sprintf("generated %q: %v", addr, err)) // a generator bug
			}
			l.text, l.key, l.local = c.String()+"\t"+addr+"\t"+strconv.FormatInt(ts, 10), a.String(), isLocal(stripP2P(a))
		}
		buf.WriteString(l.text)
		if i == n-1 && flags&1 != 0 {
			l.corrupt = true // truncated: the only line lost
		} else {
			eol()
		}
		lines = append(lines, l)
	}
	return buf.Bytes(), lines
}

// FuzzHostlistLines loads hostlists made of well-formed lines built from
// the input (see generate) with a few corruptions, so that the installer
// runs on real entries, which byte mutation of a raw file seldom makes.
// Config flags from the input: Localnet, and a banned peer. Load must
// skip exactly the corrupt lines (and a cut last line), by line number;
// install exactly what its rules say (our peer, banned peers and, unless
// Localnet, non-global hosts dropped; future last_seen clamped; dark
// entries older than DarkMaxAge dropped; a peer in several of Gold, White
// and Grey kept in its best only; the newest of duplicate lines); and the
// book must save and reload to the same lists, byte for byte.
func FuzzHostlistLines(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 0, 1, 0, 8, 8, 8, 8, 0, 0, 1, 0, 0, 0, 4})
	f.Add([]byte("a handful of bytes make a few lines of every kind"))
	f.Add(bytes.Repeat([]byte{0, 24, 1, 1, 2, 3, 2, 0, 1, 1, 1, 7, 0, 200}, 12))
	f.Add(bytes.Repeat([]byte{3, 24, 7, 8, 3, 1, 4, 5, 0, 0, 2, 1, 0, 9, 9, 3, 0, 1, 0}, 12))
	f.Add([]byte{1, 3, 1, 3, 0, 2, 2, 4, 1, 2, 3, 4, 9, 9, 9})
	peers := make([]peer.ID, 6)
	for i := range peers {
		peers[i] = testPeer(100 + i)
	}
	self := peers[5]
	f.Fuzz(func(t *testing.T, in []byte) {
		synctest.Test(t, func(t *testing.T) {
			toEpoch(t)
			if len(in) == 0 {
				return
			}
			cfgFlags := in[0]
			g := &hostlistGen{in: in[1:], peers: peers}
			data, lines := g.generate()
			cfg := Config{Self: self, Localnet: cfgFlags&1 != 0, Rand: rand.NewPCG(1, 2)}
			var banned peer.ID
			newBook := func() *Book {
				b := New(cfg)
				if cfgFlags&2 != 0 {
					banned = peers[0]
					b.Ban(banned, nil)
				}
				return b
			}
			b := newBook()
			n, bad, err := b.loadData(data)
			if err != nil {
				t.Fatalf("load: %v\n%s", err, data)
			}
			var wantBad []int
			for _, l := range lines {
				if l.corrupt {
					wantBad = append(wantBad, l.n)
				}
			}
			gotBad := make([]int, len(bad))
			for i, e := range bad {
				gotBad[i] = e.line
			}
			if fmt.Sprint(gotBad) != fmt.Sprint(wantBad) {
				t.Fatalf("skipped lines %v (%v), want %v\n%s", gotBad, bad, wantBad, data)
			}
			want := expectInstalled(lines, b, banned)
			total := 0
			for _, c := range savedColors {
				got := make(map[string]int64)
				for _, e := range b.Entries(c) {
					got[e.Addr.String()] = e.LastSeen.Unix()
				}
				if fmt.Sprint(got) != fmt.Sprint(want[c]) {
					t.Fatalf("%s holds %v, want %v\n%s", c, got, want[c], data)
				}
				total += len(got)
			}
			if n != total {
				t.Fatalf("load reported %d entries, the book holds %d", n, total)
			}
			if err := checkInvariants(b); err != nil {
				t.Fatal(err)
			}
			saved := b.encode()
			b2 := newBook()
			n2, bad2, err := b2.loadData(saved)
			if err != nil || n2 != n || len(bad2) != 0 {
				t.Fatalf("reload: %d of %d, skipped %v, %v", n2, n, bad2, err)
			}
			if again := b2.encode(); !bytes.Equal(saved, again) {
				t.Fatalf("save, reload, save differ:\n%s\n%s", saved, again)
			}
		})
	})
}

// expectInstalled returns what Load's rules (see Book.Load) install from
// the well-formed lines: per colour, address to last_seen.
func expectInstalled(lines []genLine, b *Book, banned peer.ID) map[Color]map[string]int64 {
	now := epoch.Unix()
	keep := func(l genLine) bool {
		return !l.corrupt && l.peer != b.cfg.Self && l.peer != banned && (b.cfg.Localnet || !l.local)
	}
	best := make(map[peer.ID]Color)
	for _, c := range [...]Color{Gold, White, Grey} {
		for _, l := range lines {
			if _, ok := best[l.peer]; !ok && l.color == c && keep(l) {
				best[l.peer] = c
			}
		}
	}
	want := make(map[Color]map[string]int64)
	for _, c := range savedColors {
		want[c] = make(map[string]int64)
	}
	for _, l := range lines {
		if !keep(l) || (l.color != Dark && best[l.peer] != l.color) {
			continue
		}
		ts := max(0, min(l.ts, now))
		if old, ok := want[l.color][l.key]; !ok || ts > old {
			want[l.color][l.key] = ts
		}
	}
	for k, ts := range want[Dark] {
		if ts < now-int64(DarkMaxAge.Seconds()) {
			delete(want[Dark], k)
		}
	}
	return want
}
