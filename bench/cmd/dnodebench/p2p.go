package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols"
)

// benchProto is the app protocol the point-to-point benchmarks use,
// registered through the registry like any application's.
var benchProto = channel.NewProtocol[*wrapperspb.BytesValue]("bench", "1.0.0", 64<<10, channel.Metering{})

type startFunc func(context.Context) error

func (f startFunc) Start(ctx context.Context) error { return f(ctx) }

// registerBench installs h as benchProto's handler on every channel of n.
func registerBench(n *dnode.Node, h func(ch *channel.Channel, m *wrapperspb.BytesValue) error) {
	must(n.Registry().Register(protocols.Registration{
		Name:     "bench",
		Sessions: channel.Default,
		Specs:    []*channel.Spec{benchProto.Spec()},
		New: func(ch *channel.Channel) (protocols.Protocol, error) {
			benchProto.Handle(ch, func(m *wrapperspb.BytesValue) error { return h(ch, m) })
			return startFunc(func(context.Context) error { return nil }), nil
		},
	}))
}

// pair starts two nodes with the given handlers and opens a channel a→b.
func pair(ha, hb func(*channel.Channel, *wrapperspb.BytesValue) error) (a, b *dnode.Node, ch *channel.Channel) {
	a = newNode(nodeSettings(tempDir()), func(n *dnode.Node) { registerBench(n, ha) })
	b = newNode(nodeSettings(tempDir()), func(n *dnode.Node) { registerBench(n, hb) })
	ch, err := a.Connect(context.Background(), b.Addrs()[0], channel.Manual)
	must(err)
	if !ch.PeerRuns(benchProto.Spec()) {
		panic("peer does not run the bench protocol")
	}
	return a, b, ch
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair() (client, server net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer ln.Close()
	done := make(chan net.Conn)
	go func() {
		c, err := ln.Accept()
		must(err)
		done <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	must(err)
	return client, <-done
}

// benchRTT: a 64-byte request on the app stream, echoed by the peer's
// handler; against a 64-byte round trip on raw TCP and on a bare libp2p
// stream (the floor for anything on libp2p).
func benchRTT(rounds, samples int) []row {
	pong := make(chan struct{}, 1)
	a, b, ch := pair(
		func(_ *channel.Channel, _ *wrapperspb.BytesValue) error { pong <- struct{}{}; return nil },
		func(c *channel.Channel, m *wrapperspb.BytesValue) error { return benchProto.Send(c, m) },
	)
	defer a.Stop()
	defer b.Stop()
	payload := &wrapperspb.BytesValue{Value: make([]byte, 64)}

	cli, srv := tcpPair()
	defer cli.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := io.ReadFull(srv, buf); err != nil {
				srv.Close()
				return
			}
			if _, err := srv.Write(buf); err != nil {
				return
			}
		}
	}()

	h1, h2 := newBareHost(), newBareHost()
	defer h1.Close()
	defer h2.Close()
	h2.SetStreamHandler("/echo", func(s network.Stream) {
		buf := make([]byte, 64)
		for {
			if _, err := io.ReadFull(s, buf); err != nil {
				s.Reset()
				return
			}
			if _, err := s.Write(buf); err != nil {
				return
			}
		}
	})
	must(h1.Connect(context.Background(), addrInfo(h2)))
	ls, err := h1.NewStream(context.Background(), h2.ID(), "/echo")
	must(err)
	defer ls.Close()

	var dP50, dP99, dCPU, tP50, tP99, tCPU, lP50, lCPU agg
	buf := make([]byte, 64)
	for r := range rounds {
		ds := make([]time.Duration, 0, samples)
		cpu0 := cpuTime()
		for range samples {
			t0 := time.Now()
			must(benchProto.Send(ch, payload))
			select {
			case <-pong:
			case <-time.After(5 * time.Second):
				panic("rtt: no echo")
			}
			ds = append(ds, time.Since(t0))
		}
		dCPU = append(dCPU, float64(cpuTime()-cpu0)/float64(samples)/1e3)
		dP50, dP99 = append(dP50, us(pct(ds, 50))), append(dP99, us(pct(ds, 99)))

		ds = ds[:0]
		cpu0 = cpuTime()
		for range samples {
			t0 := time.Now()
			_, err := cli.Write(buf)
			must(err)
			_, err = io.ReadFull(cli, buf)
			must(err)
			ds = append(ds, time.Since(t0))
		}
		tCPU = append(tCPU, float64(cpuTime()-cpu0)/float64(samples)/1e3)
		tP50, tP99 = append(tP50, us(pct(ds, 50))), append(tP99, us(pct(ds, 99)))

		ds = ds[:0]
		cpu0 = cpuTime()
		for range samples {
			t0 := time.Now()
			_, err := ls.Write(buf)
			must(err)
			_, err = io.ReadFull(ls, buf)
			must(err)
			ds = append(ds, time.Since(t0))
		}
		lCPU = append(lCPU, float64(cpuTime()-cpu0)/float64(samples)/1e3)
		lP50 = append(lP50, us(pct(ds, 50)))
		logf("rtt round %d: dnode p50 %.1f µs, tcp %.1f µs, libp2p stream %.1f µs", r+1, dP50[r], tP50[r], lP50[r])
	}
	return []row{
		{bench: "ping RTT p50 (64 B echo via app protocol)", unit: "µs", dnode: dP50, base: tP50, baseName: "raw TCP 64 B round trip", target: "≤ 2.5×", targetRatio: 2.5, lowerBetter: true},
		{bench: "ping RTT p50 (64 B echo via app protocol)", unit: "µs", dnode: dP50, base: lP50, baseName: "bare libp2p stream 64 B round trip", lowerBetter: true},
		{bench: "ping RTT p99", unit: "µs", dnode: dP99, base: tP99, baseName: "raw TCP 64 B round trip", lowerBetter: true},
		{bench: "ping CPU per round trip", unit: "µs", dnode: dCPU, base: tCPU, baseName: "raw TCP 64 B round trip", lowerBetter: true},
		{bench: "ping CPU per round trip", unit: "µs", dnode: dCPU, base: lCPU, baseName: "bare libp2p stream 64 B round trip", lowerBetter: true},
	}
}

// benchSend: one-way 1 KiB messages over one channel with Protocol.Send
// in a loop; the receiver's handler counts receipts, and the sender keeps
// at most window messages in flight (backpressure below the channel's
// send queue). Against raw TCP length-prefixed 1 KiB frames, one Write each.
func benchSend(rounds, msgs int) []row {
	const window = 384
	var recvd atomic.Int64
	wake := make(chan struct{}, 1)
	a, b, ch := pair(
		func(*channel.Channel, *wrapperspb.BytesValue) error { return nil },
		func(*channel.Channel, *wrapperspb.BytesValue) error {
			recvd.Add(1)
			select {
			case wake <- struct{}{}:
			default:
			}
			return nil
		},
	)
	defer a.Stop()
	defer b.Stop()
	msg := &wrapperspb.BytesValue{Value: make([]byte, 1024)}

	var dRate, dCPU, tRate, tCPU, bRate, bCPU, lRate, lCPU agg
	var dropsRetried int
	for r := range rounds {
		recvd.Store(0)
		cpu0 := cpuTime()
		t0 := time.Now()
		sent := int64(0)
		for sent < int64(msgs) {
			if sent-recvd.Load() >= window {
				select {
				case <-wake:
				case <-time.After(time.Millisecond):
				}
				continue
			}
			err := benchProto.Send(ch, msg)
			if errors.Is(err, channel.ErrQueueFull) {
				dropsRetried++
				continue
			}
			must(err)
			sent++
		}
		if !waitFor(30*time.Second, func() bool { return recvd.Load() >= int64(msgs) }) {
			logf("send: only %d of %d received", recvd.Load(), msgs)
		}
		el := time.Since(t0)
		dRate = append(dRate, float64(msgs)/el.Seconds()/1e3)
		dCPU = append(dCPU, float64(cpuTime()-cpu0)/float64(msgs)/1e3)

		// raw TCP
		cli, srv := tcpPair()
		var got atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			br := bufio.NewReaderSize(srv, 64<<10)
			var hdr [4]byte
			body := make([]byte, 1024)
			for got.Load() < int64(msgs) {
				if _, err := io.ReadFull(br, hdr[:]); err != nil {
					return
				}
				if _, err := io.ReadFull(br, body[:binary.BigEndian.Uint32(hdr[:])]); err != nil {
					return
				}
				got.Add(1)
			}
		}()
		frame := binary.BigEndian.AppendUint32(nil, 1024)
		frame = append(frame, make([]byte, 1024)...)
		cpu0 = cpuTime()
		t0 = time.Now()
		for range msgs {
			_, err := cli.Write(frame)
			must(err)
		}
		<-done
		el = time.Since(t0)
		tRate = append(tRate, float64(msgs)/el.Seconds()/1e3)
		tCPU = append(tCPU, float64(cpuTime()-cpu0)/float64(msgs)/1e3)
		cli.Close()
		srv.Close()
		wall, cpu := rawTCPBatched(msgs, 1024, window)
		bRate = append(bRate, float64(msgs)/wall.Seconds()/1e3)
		bCPU = append(bCPU, us(cpu)/float64(msgs))
		wall, cpu = libp2pBatched(msgs, 1024, window)
		lRate = append(lRate, float64(msgs)/wall.Seconds()/1e3)
		lCPU = append(lCPU, us(cpu)/float64(msgs))
		logf("send round %d: dnode %.0f k msg/s, tcp %.0f k msg/s, tcp batched %.0f k msg/s, libp2p batched %.0f k msg/s", r+1, dRate[r], tRate[r], bRate[r], lRate[r])
	}
	note := ""
	if dropsRetried > 0 {
		note = "queue-full retries: " + itoa(dropsRetried)
	}
	return []row{
		{bench: "1 KiB channel send, one way", unit: "k msg/s", dnode: dRate, base: tRate, baseName: "raw TCP 1 KiB frames", target: "≥ 0.35×", targetRatio: 0.35, note: note},
		{bench: "1 KiB channel send CPU", unit: "µs/msg", dnode: dCPU, base: tCPU, baseName: "raw TCP 1 KiB frames", lowerBetter: true},
		{bench: "1 KiB channel send, one way", unit: "k msg/s", dnode: dRate, base: bRate, baseName: batchedName("1 KiB"), target: "≥ 0.5×", targetRatio: 0.5},
		{bench: "1 KiB channel send CPU", unit: "µs/msg", dnode: dCPU, base: bCPU, baseName: batchedName("1 KiB"), lowerBetter: true},
		{bench: "1 KiB channel send, one way", unit: "k msg/s", dnode: dRate, base: lRate, baseName: libp2pBatchedName("1 KiB")},
		{bench: "1 KiB channel send CPU", unit: "µs/msg", dnode: dCPU, base: lCPU, baseName: libp2pBatchedName("1 KiB"), lowerBetter: true},
	}
}
