package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/addrbook"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/protocols"
	"github.com/dnode-p2p/dnode/protocols/addr"
	"github.com/dnode-p2p/dnode/protocols/pb"
	"github.com/dnode-p2p/dnode/protocols/ping"
	"github.com/dnode-p2p/dnode/protocols/version"
)

// addrPerChannel is how many addr exchanges (and as many echoes) run on
// one channel: the responder meters the addr protocol (12 messages per
// 10 s, 20 with ping, over the channel), so each channel carries few
// enough requests that metering never trips and each test channel is
// fresh.
const addrPerChannel = 8

// benchAddr measures the addr exchange: a GetAddrs→Addrs round trip on an
// open channel with 10, 100 and 1000 entries in the reply, against an
// equal-size request/response with the app-protocol echo of the RTT
// benchmark on the same channel (the responder's handler answers with a
// payload sized so that the reply frame is as large as the Addrs frame).
//
// The responder is a dnode node whose address book holds 1000 tcp and
// 1000 quic-v1 white entries (loaded as a hostlist). The requester is
// dnode's own code on a plain go-libp2p host: a channel.Channel on the
// connection after the version handshake, running the addr protocol
// (addr.Service, with its own book), ping, and the bench protocol; each
// exchange is addr.Service.SeedExchange (GetAddrs with its token-bucket
// credit, the reply decoded and inserted into the requester's book), so
// both ends run the real protocol and the reply is never rate-limited.
// A request for k entries asks for k/2 tcp addresses; Select then adds as
// many of the other transport, so the reply holds k (the protocol caps a
// request at 500 and a reply at 2×500 entries and 64 KiB).
func benchAddr(rounds int) ([]row, []string) {
	const total = 1000
	var replyBytes [3]int
	var entries [3]float64
	sizes := []int{10, 100, 1000}
	reply := make([]byte, addr.MaxBytes)
	r := newNode(nodeSettings(tempDir()), func(n *dnode.Node) {
		registerBench(n, func(ch *channel.Channel, m *wrapperspb.BytesValue) error {
			k := binary.BigEndian.Uint32(m.Value)
			return benchProto.Send(ch, &wrapperspb.BytesValue{Value: reply[:k]})
		})
	})
	defer r.Stop()
	path := filepath.Join(tempDir(), "hostlist.tsv")
	must(os.WriteFile(path, hostlist(total), 0o600))
	lr, err := nodeinternal.Book(r).Load(path)
	must(err)
	logf("addr: responder book holds %d white entries", lr.Loaded)
	rAddr := r.Addrs()[0]

	type stat struct{ p50, cpu, eP50, eCPU agg }
	stats := make([]stat, len(sizes))
	zombies := 0
	for round := range rounds {
		for si, k := range sizes {
			var ad, ed []time.Duration
			var acpu, ecpu time.Duration
			svc := addr.New(addr.Config{Node: benchAddrNode{book: reqBook, max: k / 2}})
			getSize := proto.Size(&pb.AddrMessage{Body: &pb.AddrMessage_GetAddrs{GetAddrs: &pb.GetAddrs{Max: uint32(k / 2), Transports: []string{"tcp"}}}})
			for range 12 {
				rc := dialRequester(rAddr, svc)
				time.Sleep(20 * time.Millisecond) // the responder's own GetAddrs and pings at channel start
				for range addrPerChannel {
					in0, p0 := rc.ch.Stats().BytesIn, svc.Stats().Processed
					c0, t0 := cpuTime(), time.Now()
					if _, err := svc.SeedExchange(context.Background(), rc.ch); err != nil {
						panic(fmt.Sprintf("addr exchange: %v (channel err %v)", err, rc.ch.Err()))
					}
					ad, acpu = append(ad, time.Since(t0)), acpu+cpuTime()-c0
					replyBytes[si] = int(rc.ch.Stats().BytesIn - in0)
					entries[si] = float64(svc.Stats().Processed - p0)

					// echo of the same sizes: request as large as GetAddrs,
					// reply frame as large as the Addrs frame
					req := make([]byte, max(getSize-2, 4))
					binary.BigEndian.PutUint32(req, uint32(echoPayload(replyBytes[si])))
					c0, t0 = cpuTime(), time.Now()
					must(benchProto.Send(rc.ch, &wrapperspb.BytesValue{Value: req}))
					select {
					case <-rc.echo:
					case <-time.After(5 * time.Second):
						panic("addr: no echo")
					}
					ed, ecpu = append(ed, time.Since(t0)), ecpu+cpuTime()-c0
				}
				if !rc.close(r) {
					zombies++
				}
			}
			n := float64(len(ad))
			st := &stats[si]
			st.p50, st.eP50 = append(st.p50, us(pct(ad, 50))), append(st.eP50, us(pct(ed, 50)))
			st.cpu, st.eCPU = append(st.cpu, us(acpu)/n), append(st.eCPU, us(ecpu)/n)
			logf("addr round %d, %d entries: exchange p50 %.0f µs, echo p50 %.0f µs, reply %d B", round+1, k, st.p50[round], st.eP50[round], replyBytes[si])
		}
	}
	var rows []row
	for si, k := range sizes {
		st := stats[si]
		base := "app-protocol echo, same sizes, same channel"
		rows = append(rows,
			row{bench: fmt.Sprintf("addr exchange p50, %d entries (%d B reply)", k, replyBytes[si]), unit: "µs", dnode: st.p50, base: st.eP50, baseName: base, target: "≤ 2.0×", targetRatio: 2, lowerBetter: true},
			row{bench: fmt.Sprintf("addr exchange CPU, %d entries", k), unit: "µs", dnode: st.cpu, base: st.eCPU, baseName: base, lowerBetter: true},
		)
	}
	notes := []string{fmt.Sprintf("addr exchange: %d exchanges per size per round (12 fresh channels × %d, alternating with as many echoes), so the responder's metering of the addr protocol (12 messages per 10 s per channel) never trips; the requester's token bucket is credited by its own GetAddrs as in normal operation, so no address is rate-limited. Entries per reply: %v; bytes per reply frame (channel BytesIn): %v. The 1000-entry reply is the protocol's largest: a request is clamped to 500 per transport group and the reply to 64 KiB. Responder channels that outlived their closed connection by > 2 s (stopped by hand): %d.",
		12*addrPerChannel, addrPerChannel, entries, replyBytes, zombies)}
	return rows, notes
}

// reqBook is the requester's address book, shared by its channels.
var reqBook = addrbook.New(addrbook.Config{})

// echoPayload is the BytesValue payload length whose frame (varint
// length, tag, varint payload length, payload) is frame bytes long.
func echoPayload(frame int) int {
	for p := frame; p > 0; p-- {
		body := 1 + uvarintLen(p) + p
		if uvarintLen(body)+body <= frame {
			return p
		}
	}
	return 0
}

func uvarintLen(x int) int { return len(binary.AppendUvarint(nil, uint64(x))) }

// hostlist returns a hostlist file with n tcp and n quic-v1 white entries
// of random peers on public addresses.
func hostlist(n int) []byte {
	var sb strings.Builder
	sb.WriteString(addrbook.FileHeader + "\n")
	now := time.Now().Unix()
	for i := range 2 * n {
		_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
		must(err)
		id, err := peer.IDFromPublicKey(pub)
		must(err)
		tr := fmt.Sprintf("tcp/%d", 1024+i)
		if i%2 == 1 {
			tr = fmt.Sprintf("udp/%d/quic-v1", 1024+i)
		}
		fmt.Fprintf(&sb, "white\t/ip4/23.%d.%d.%d/%s/p2p/%s\t%d\n", i>>16&255, i>>8&255, i&255|1, tr, id, now-int64(i))
	}
	return []byte(sb.String())
}

// requester is one channel of the requesting side.
type requester struct {
	h    host.Host
	ch   *channel.Channel
	ctl  *channel.Control
	echo chan struct{}
}

// dialRequester connects a fresh plain host to target, runs dnode's
// version handshake, and starts a channel with addr (svc), ping and the
// bench protocol on the connection, as a node's session layer would.
func dialRequester(target ma.Multiaddr, svc *addr.Service) *requester {
	ctx := context.Background()
	h := newDialHost()
	rc := &requester{h: h, echo: make(chan struct{}, 1)}
	made := make(chan struct{})
	heartbeat := 10 * time.Second
	pingProto := ping.NewSpec(heartbeat)
	// The peer starts its channel, and pings, as soon as the handshake is
	// done: serve the streams from before it.
	for _, spec := range []*channel.Spec{svc.Spec(), pingProto.Spec(), benchProto.Spec()} {
		h.SetStreamHandler(spec.ID(benchNetwork), func(s network.Stream) {
			<-made
			rc.ctl.ServeStream(spec, s)
		})
	}
	ai := addrInfoOf(target)
	must(h.Connect(ctx, ai))
	s, err := h.NewStream(ctx, ai.ID, version.ID(benchNetwork))
	must(err)
	local := version.Local{AppName: "dnode", AppVersion: dnode.Version}
	theirs, err := version.Exchange(ctx, s, s, local, nil, 5*time.Second, time.Now())
	must(err)
	s.Close()
	conns := h.Network().ConnsToPeer(ai.ID)
	if len(conns) == 0 {
		panic("addr: no connection after the handshake")
	}
	rc.ch, rc.ctl = channel.New(channel.Config{ID: 1, Conn: conns[0], Network: benchNetwork, Session: channel.Seed,
		Violation: func(_ *channel.Channel, err error) { logf("addr: requester channel violation: %v", err) }})
	rc.ctl.SetVersion(theirs)
	var started []protocols.Protocol
	for _, reg := range []protocols.Registration{
		svc.Registration(channel.Seed),
		ping.Registration(channel.Seed, pingProto, ping.Config{Timing: func(*channel.Channel) (time.Duration, time.Duration) { return heartbeat, heartbeat }}),
	} {
		p, err := reg.New(rc.ch)
		must(err)
		started = append(started, p)
	}
	benchProto.Handle(rc.ch, func(*wrapperspb.BytesValue) error {
		select {
		case rc.echo <- struct{}{}:
		default:
		}
		return nil
	})
	close(made)
	rc.ctl.Start()
	for _, p := range started {
		must(p.Start(ctx))
	}
	return rc
}

// close stops the channel and the host and waits until the responder r
// dropped its channel; it reports false if r kept it (stopped by hand).
func (rc *requester) close(r *dnode.Node) bool {
	rc.ch.Stop(nil)
	<-rc.ch.Done()
	rc.h.Close()
	if waitFor(2*time.Second, func() bool { return len(r.Channels()) == 0 }) {
		return true
	}
	for _, c := range r.Channels() { // see docs/benchmarks.md, Findings
		c.Stop(nil)
	}
	waitFor(5*time.Second, func() bool { return len(r.Channels()) == 0 })
	return false
}

// benchAddrNode is the requester's node for addr.Service: its own book, k/2
// addresses per GetAddrs, TCP, no external addresses.
type benchAddrNode struct {
	book *addrbook.Book
	max  int
}

func (b benchAddrNode) AddrBook() *addrbook.Book    { return b.book }
func (b benchAddrNode) GetAddrsMax() int            { return b.max }
func (benchAddrNode) DialableTransports() []string  { return []string{"tcp"} }
func (benchAddrNode) ExternalAddrs() []ma.Multiaddr { return nil }
