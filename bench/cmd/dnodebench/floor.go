package main

import (
	"io"
	"net"
	"time"
)

// batchMax is the most bytes the batched floor hands to one Write, as
// dnode's channel writer (channel.maxWrite).
const batchMax = 64 << 10

// rawTCPBatched is rawTCPFrames with dnode's send shape and none of its
// crypto or muxing: the sender hands each frame (4-byte length + size
// bytes) to a writer goroutine through a queue of window frames, and the
// writer coalesces what is queued into writes of at most batchMax bytes
// (a frame larger than that is written alone, from where it is). It
// returns the wall and CPU time from the first frame queued to the last
// read.
func rawTCPBatched(msgs, size, window int) (time.Duration, time.Duration) {
	return tcpFrames(msgs, size, func(cli net.Conn, frame []byte) { sendBatched(cli, frame, msgs, window) })
}

// libp2pBatched is rawTCPBatched over one stream between two bare
// go-libp2p hosts: what noise and yamux leave of the batched floor, the
// ceiling for a channel on the same transport.
func libp2pBatched(msgs, size, window int) (time.Duration, time.Duration) {
	return libp2pStream(msgs, size, func(w io.Writer, frame []byte) { sendBatched(w, frame, msgs, window) })
}

// sendBatched queues msgs copies of frame, window at a time, for a
// coalescing writer to w, and returns once all are written.
func sendBatched(w io.Writer, frame []byte, msgs, window int) {
	queue := make(chan []byte, window)
	written := make(chan error, 1)
	go func() { written <- coalesce(w, queue) }()
	for range msgs {
		queue <- frame
	}
	close(queue)
	must(<-written)
}

// coalesce writes the frames of queue to w until it is closed: what is
// queued at once goes out in writes of at most batchMax bytes, a frame of
// batchMax/2 or more alone, from where it is.
func coalesce(w io.Writer, queue <-chan []byte) error {
	buf := make([]byte, 0, batchMax)
	var err error
	flush := func() {
		if len(buf) > 0 && err == nil {
			_, err = w.Write(buf)
		}
		buf = buf[:0]
	}
	for f := range queue {
		for more := true; more; {
			if len(f) >= batchMax/2 {
				flush()
				if err == nil {
					_, err = w.Write(f)
				}
			} else {
				if len(buf)+len(f) > batchMax {
					flush()
				}
				buf = append(buf, f...)
			}
			select {
			case f, more = <-queue:
			default:
				more = false
			}
		}
		flush()
	}
	return err
}

// batchedName is the batched floor's baseline name for frames of size.
func batchedName(size string) string {
	return "raw TCP " + size + " frames, batched writer (≤ 64 KiB writes)"
}

// libp2pBatchedName is libp2pBatched's baseline name for frames of size.
func libp2pBatchedName(size string) string {
	return "bare libp2p stream, " + size + " frames, batched writer (≤ 64 KiB writes)"
}
