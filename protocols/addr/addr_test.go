package addr

import (
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols/pb"
)

// Bitcoin's p2p_addr_relay.py rate-limit sequence: 600, 600 and 10
// addresses at once, then 200 after 100 s and 200 after 1000 s more. For
// an inbound peer (1 token at the start) processed == min(total, tokens)
// and the rest is rate-limited; after our GetAddrs the reply fits.
func TestTokenBucketSequence(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_000_000, 0)
	b := newBucket(start)
	steps := []struct {
		after time.Duration
		n     int
		want  int
	}{
		{0, 600, 1}, {0, 600, 0}, {0, 10, 0},
		{100 * time.Second, 200, 10},
		{1100 * time.Second, 200, 100},
	}
	now := start
	for i, s := range steps {
		now = start.Add(s.after)
		if got := b.take(now, s.n); got != s.want {
			t.Errorf("step %d: took %d of %d, want %d", i, got, s.n, s.want)
		}
	}
	// A reply to our GetAddrs{max: 500} is not limited.
	b.credit(now, 2*500)
	if got := b.take(now, 1000); got != 1000 {
		t.Errorf("reply to our request: took %d of 1000", got)
	}
	// The bucket never refills past its cap.
	later := now.Add(1_000_000 * time.Second)
	if got := b.take(later, 5000); got != tokenBurst {
		t.Errorf("after a long idle: took %d, want the cap %d", got, tokenBurst)
	}
}

func TestCheckGetAddrs(t *testing.T) {
	t.Parallel()
	for _, max := range []uint32{0, 1, 8, 255, 256, 1<<32 - 1} {
		if err := CheckGetAddrs(&pb.GetAddrs{Max: max, Transports: []string{"tcp", "quic", "ws"}}); err != nil {
			t.Errorf("max %d refused: %v", max, err)
		}
	}
	many := &pb.GetAddrs{Transports: make([]string, MaxTransports+1)}
	if err := CheckGetAddrs(many); !errors.Is(err, channel.ErrViolation) {
		t.Errorf("too many transports: %v", err)
	}
	long := &pb.GetAddrs{Transports: []string{string(make([]byte, MaxGetAddrsBytes))}}
	if err := CheckGetAddrs(long); !errors.Is(err, channel.ErrViolation) {
		t.Errorf("oversized GetAddrs: %v", err)
	}
}

func TestDecodeEntries(t *testing.T) {
	t.Parallel()
	_, pub, _ := crypto.GenerateEd25519Key(nil)
	id, _ := peer.IDFromPublicKey(pub)
	good := ma.StringCast("/ip4/8.8.8.8/tcp/1/p2p/" + id.String())
	in := []*pb.AddrEntry{
		{Addr: good.Bytes(), LastSeen: 5},
		{Addr: ma.StringCast("/ip4/8.8.8.8/tcp/1").Bytes(), LastSeen: 5}, // no /p2p/
		{Addr: []byte{0xff, 0x01}, LastSeen: 5},                          // garbage
		{Addr: good.Bytes(), LastSeen: 1<<64 - 1},                        // absurd time: kept, clamped later
	}
	out := DecodeEntries(in)
	if len(out) != 2 || out[0].Peer != id || !out[0].Addr.Equal(good) || out[0].LastSeen.Unix() != 5 {
		t.Fatalf("decoded %+v", out)
	}
}

func fuzzSeeds(f *testing.F) {
	_, pub, _ := crypto.GenerateEd25519Key(nil)
	id, _ := peer.IDFromPublicKey(pub)
	a := ma.StringCast("/ip4/8.8.8.8/tcp/1/p2p/" + id.String())
	for _, m := range []proto.Message{
		&pb.AddrMessage{Body: &pb.AddrMessage_GetAddrs{GetAddrs: &pb.GetAddrs{Max: 8, Transports: []string{"tcp"}}}},
		&pb.AddrMessage{Body: &pb.AddrMessage_Addrs_{Addrs_: &pb.Addrs{Addrs: []*pb.AddrEntry{{Addr: a.Bytes(), LastSeen: 7}}}}},
	} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0xff})
}

// FuzzGetAddrs decodes arbitrary bytes as an AddrMessage and checks a
// GetAddrs: no panic, and an accepted request is within its limits.
func FuzzGetAddrs(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &pb.AddrMessage{}
		if proto.Unmarshal(b, m) != nil || m.GetGetAddrs() == nil {
			return
		}
		g := m.GetGetAddrs()
		if CheckGetAddrs(g) == nil && (len(g.Transports) > MaxTransports || proto.Size(g) > MaxGetAddrsBytes) {
			t.Fatalf("accepted an oversized GetAddrs")
		}
	})
}

// FuzzAddrs decodes arbitrary bytes as an AddrMessage and its entries: no
// panic, and every decoded entry names a peer that matches its address.
func FuzzAddrs(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &pb.AddrMessage{}
		if proto.Unmarshal(b, m) != nil || m.GetAddrs_() == nil {
			return
		}
		for _, e := range DecodeEntries(m.GetAddrs_().GetAddrs()) {
			info, err := peer.AddrInfoFromP2pAddr(e.Addr)
			if err != nil || info.ID != e.Peer {
				t.Fatalf("entry %v does not name its peer", e)
			}
		}
	})
}
