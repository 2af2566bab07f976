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

// bulkSize is the payload of one bulk message: a block-sized 256 KiB.
// A channel has no limit of its own above its protocols' caps (Spec
// MaxBytes, checked before a frame is read), so the bulk protocol's cap is
// the message plus its protobuf envelope.
const bulkSize = 256 << 10

var bulkProto = channel.NewProtocol[*wrapperspb.BytesValue]("benchbulk", "1.0.0", bulkSize+16, channel.Metering{})

// registerBulk installs h as bulkProto's handler on every channel of n.
func registerBulk(n *dnode.Node, h func(m *wrapperspb.BytesValue)) {
	must(n.Registry().Register(protocols.Registration{
		Name:     "benchbulk",
		Sessions: channel.Default,
		Specs:    []*channel.Spec{bulkProto.Spec()},
		New: func(ch *channel.Channel) (protocols.Protocol, error) {
			bulkProto.Handle(ch, func(m *wrapperspb.BytesValue) error { h(m); return nil })
			return startFunc(func(context.Context) error { return nil }), nil
		},
	}))
}

// sendWindowed sends msgs messages with send, keeping at most window of
// them unacknowledged by recvd, retrying on ErrQueueFull; it returns the
// retries.
func sendWindowed(msgs, window int, recvd *atomic.Int64, wake <-chan struct{}, send func() error) int {
	retries := 0
	for sent := int64(0); sent < int64(msgs); {
		if sent-recvd.Load() >= int64(window) {
			select {
			case <-wake:
			case <-time.After(time.Millisecond):
			}
			continue
		}
		err := send()
		if errors.Is(err, channel.ErrQueueFull) {
			retries++
			continue
		}
		must(err)
		sent++
	}
	if !waitFor(60*time.Second, func() bool { return recvd.Load() >= int64(msgs) }) {
		logf("send: only %d of %d received", recvd.Load(), msgs)
	}
	return retries
}

// rawTCPFrames sends msgs frames of 4-byte length + size bytes over a
// fresh loopback TCP connection, one Write each, read through a 64 KiB
// bufio.Reader into a reused buffer; it returns the wall and CPU time.
func rawTCPFrames(msgs, size int) (time.Duration, time.Duration) {
	return tcpFrames(msgs, size, func(cli net.Conn, frame []byte) {
		for range msgs {
			_, err := cli.Write(frame)
			must(err)
		}
	})
}

// tcpFrames runs send, which writes msgs copies of frame (4-byte length +
// size bytes) to cli, over a fresh loopback TCP connection whose other
// end readFrames reads; it returns the wall and CPU time from the start
// of send to the last frame read.
func tcpFrames(msgs, size int, send func(cli net.Conn, frame []byte)) (time.Duration, time.Duration) {
	cli, srv := tcpPair()
	defer cli.Close()
	defer srv.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		readFrames(srv, msgs, size)
	}()
	frame := binary.BigEndian.AppendUint32(nil, uint32(size))
	frame = append(frame, make([]byte, size)...)
	cpu0, t0 := cpuTime(), time.Now()
	send(cli, frame)
	<-done
	return time.Since(t0), cpuTime() - cpu0
}

// readFrames reads msgs frames of 4-byte length + at most size bytes
// from r through a 64 KiB bufio.Reader into a reused buffer, until an
// error.
func readFrames(r io.Reader, msgs, size int) {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [4]byte
	body := make([]byte, size)
	for range msgs {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		if _, err := io.ReadFull(br, body[:binary.BigEndian.Uint32(hdr[:])]); err != nil {
			return
		}
	}
}

// libp2pFrames is rawTCPFrames over one stream between two bare go-libp2p
// hosts (TCP, noise, yamux): the floor for anything on libp2p.
func libp2pFrames(msgs, size int) (time.Duration, time.Duration) {
	return libp2pStream(msgs, size, func(w io.Writer, frame []byte) {
		for range msgs {
			_, err := w.Write(frame)
			must(err)
		}
	})
}

// libp2pStream is tcpFrames over one stream between two bare go-libp2p
// hosts (TCP, noise, yamux).
func libp2pStream(msgs, size int, send func(w io.Writer, frame []byte)) (time.Duration, time.Duration) {
	h1, h2 := newBareHost(), newBareHost()
	defer h1.Close()
	defer h2.Close()
	done := make(chan struct{})
	h2.SetStreamHandler("/bulk", func(s network.Stream) {
		defer close(done)
		defer s.Close()
		readFrames(s, msgs, size)
	})
	must(h1.Connect(context.Background(), addrInfo(h2)))
	s, err := h1.NewStream(context.Background(), h2.ID(), "/bulk")
	must(err)
	defer s.Close()
	frame := binary.BigEndian.AppendUint32(nil, uint32(size))
	frame = append(frame, make([]byte, size)...)
	cpu0, t0 := cpuTime(), time.Now()
	send(s, frame)
	<-done
	return time.Since(t0), cpuTime() - cpu0
}

// benchSendSmall: one-way 64-byte messages over one channel with
// Protocol.Send in a loop, at most 384 in flight (as benchSend); against
// raw TCP 64-byte length-prefixed frames, one Write each.
func benchSendSmall(rounds, msgs int) []row {
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
	msg := &wrapperspb.BytesValue{Value: make([]byte, 64)}
	var dRate, dCPU, tRate, tCPU, bRate, bCPU agg
	for r := range rounds {
		recvd.Store(0)
		cpu0, t0 := cpuTime(), time.Now()
		sendWindowed(msgs, window, &recvd, wake, func() error { return benchProto.Send(ch, msg) })
		dRate = append(dRate, float64(msgs)/time.Since(t0).Seconds()/1e3)
		dCPU = append(dCPU, us(cpuTime()-cpu0)/float64(msgs))
		wall, cpu := rawTCPFrames(msgs, 64)
		tRate = append(tRate, float64(msgs)/wall.Seconds()/1e3)
		tCPU = append(tCPU, us(cpu)/float64(msgs))
		wall, cpu = rawTCPBatched(msgs, 64, window)
		bRate = append(bRate, float64(msgs)/wall.Seconds()/1e3)
		bCPU = append(bCPU, us(cpu)/float64(msgs))
		logf("send 64 B round %d: dnode %.0f k msg/s, tcp %.0f k msg/s, tcp batched %.0f k msg/s", r+1, dRate[r], tRate[r], bRate[r])
	}
	return []row{
		{bench: "64 B channel send, one way", unit: "k msg/s", dnode: dRate, base: tRate, baseName: "raw TCP 64 B frames"},
		{bench: "64 B channel send CPU", unit: "µs/msg", dnode: dCPU, base: tCPU, baseName: "raw TCP 64 B frames", lowerBetter: true},
		{bench: "64 B channel send, one way", unit: "k msg/s", dnode: dRate, base: bRate, baseName: batchedName("64 B")},
		{bench: "64 B channel send CPU", unit: "µs/msg", dnode: dCPU, base: bCPU, baseName: batchedName("64 B"), lowerBetter: true},
	}
}

// benchBulk: one-way 256 KiB messages (total MiB per round) over one
// channel on their own app protocol, at most 8 in flight; MiB/s and the
// process's CPU per byte. Against raw TCP 256 KiB frames, one Write each.
func benchBulk(rounds, totalMiB int) []row {
	const window = 8
	msgs := totalMiB << 20 / bulkSize
	var recvd atomic.Int64
	wake := make(chan struct{}, 1)
	a := newNode(nodeSettings(tempDir()), func(n *dnode.Node) { registerBulk(n, func(*wrapperspb.BytesValue) {}) })
	b := newNode(nodeSettings(tempDir()), func(n *dnode.Node) {
		registerBulk(n, func(*wrapperspb.BytesValue) {
			recvd.Add(1)
			select {
			case wake <- struct{}{}:
			default:
			}
		})
	})
	defer a.Stop()
	defer b.Stop()
	ch, err := a.Connect(context.Background(), b.Addrs()[0], channel.Manual)
	must(err)
	msg := &wrapperspb.BytesValue{Value: make([]byte, bulkSize)}
	data, err := bulkProto.Spec().Encode(msg) // encoded once, as a broadcast does
	must(err)
	bytes := float64(msgs) * bulkSize
	var dRate, dCPU, tRate, tCPU, lRate, lCPU agg
	for r := range rounds {
		recvd.Store(0)
		cpu0, t0 := cpuTime(), time.Now()
		sendWindowed(msgs, window, &recvd, wake, func() error { return ch.SendEncoded(bulkProto.Spec(), data) })
		dRate = append(dRate, bytes/(1<<20)/time.Since(t0).Seconds())
		dCPU = append(dCPU, float64(cpuTime()-cpu0)/bytes)
		wall, cpu := rawTCPFrames(msgs, bulkSize)
		tRate = append(tRate, bytes/(1<<20)/wall.Seconds())
		tCPU = append(tCPU, float64(cpu)/bytes)
		wall, cpu = libp2pFrames(msgs, bulkSize)
		lRate = append(lRate, bytes/(1<<20)/wall.Seconds())
		lCPU = append(lCPU, float64(cpu)/bytes)
		logf("bulk round %d: dnode %.0f MiB/s, tcp %.0f MiB/s, libp2p stream %.0f MiB/s", r+1, dRate[r], tRate[r], lRate[r])
	}
	return []row{
		{bench: "bulk channel send, 256 KiB messages, one way", unit: "MiB/s", dnode: dRate, base: tRate, baseName: "raw TCP 256 KiB frames", target: "≥ 0.5×", targetRatio: 0.5},
		{bench: "bulk channel send, 256 KiB messages, one way", unit: "MiB/s", dnode: dRate, base: lRate, baseName: "bare libp2p stream, 256 KiB frames", target: "≥ 1.0×", targetRatio: 1.0},
		{bench: "bulk channel send CPU", unit: "ns/byte", dnode: dCPU, base: tCPU, baseName: "raw TCP 256 KiB frames", target: "≤ 3.5×", targetRatio: 3.5, lowerBetter: true},
		{bench: "bulk channel send CPU", unit: "ns/byte", dnode: dCPU, base: lCPU, baseName: "bare libp2p stream, 256 KiB frames", target: "≤ 1.2×", targetRatio: 1.2, lowerBetter: true},
	}
}
