package channel

import (
	"io"
	"sync"
)

// idleBuffer is the bytes a stream's reader holds while it waits for a
// frame: enough for a ping or pong and most control frames, so small
// frames are read and handled without touching the pool.
const idleBuffer = 64

// poolBuffer is the size of the pooled read buffers: frames up to this
// (scratchMax) are handed out from it without a copy, and it reads ahead
// of the frame in progress, so back-to-back frames cost one stream read.
const poolBuffer = scratchMax

// readBufs holds the read buffers of streams that are reading a frame or
// have read ahead; idle streams hold none.
var readBufs = sync.Pool{New: func() any { b := make([]byte, poolBuffer); return &b }}

// frameReader buffers reads of one incoming stream like a bufio.Reader,
// but holds a pooled buffer only while it has bytes read ahead or a frame
// in progress: once those are consumed the next read waiting for a frame
// returns it to the pool and waits on a small inline buffer. A stream
// idle between frames thus costs idleBuffer bytes instead of a read
// buffer and a frame buffer.
//
// A slice returned by payload is valid until the next call on the reader.
// It is not safe for concurrent use (one reader goroutine per stream).
type frameReader struct {
	rd   io.Reader
	idle [idleBuffer]byte
	pool *[]byte // the pooled buffer while held, else nil
	buf  []byte  // idle[:] or *pool
	r, w int     // buf[r:w] is read but not consumed
	err  error   // returned once buf[r:w] is consumed
}

func newFrameReader(rd io.Reader) *frameReader {
	fr := &frameReader{rd: rd}
	fr.buf = fr.idle[:0]
	return fr
}

// Buffered returns the number of bytes read ahead and not yet consumed.
func (fr *frameReader) Buffered() int { return fr.w - fr.r }

// release returns the pooled buffer, if held; the buffer must be empty.
func (fr *frameReader) release() {
	if fr.pool != nil {
		readBufs.Put(fr.pool)
		fr.pool = nil
	}
	fr.buf, fr.r, fr.w = fr.idle[:], 0, 0
}

// readErr returns and clears the error kept from an earlier read.
func (fr *frameReader) readErr() error {
	err := fr.err
	fr.err = nil
	return err
}

// ReadByte returns the next byte. With nothing buffered it releases the
// pooled buffer and blocks on a read into the inline buffer.
func (fr *frameReader) ReadByte() (byte, error) {
	for fr.r == fr.w {
		if fr.err != nil {
			return 0, fr.readErr()
		}
		fr.release()
		n, err := fr.rd.Read(fr.idle[:])
		fr.w, fr.err = n, err
	}
	b := fr.buf[fr.r]
	fr.r++
	return b, nil
}

// payload returns the next n bytes (n at most poolBuffer) as one slice,
// reading ahead into a pooled buffer when they are not all buffered. The
// slice is valid until the next call on fr. A stream that ends before n
// bytes is a violation (a truncated frame).
func (fr *frameReader) payload(n int) ([]byte, error) {
	if fr.w-fr.r >= n {
		p := fr.buf[fr.r : fr.r+n]
		fr.r += n
		return p, nil
	}
	if fr.pool == nil {
		fr.pool = readBufs.Get().(*[]byte)
		fr.w = copy(*fr.pool, fr.buf[fr.r:fr.w])
		fr.buf = *fr.pool
	} else {
		fr.w = copy(fr.buf, fr.buf[fr.r:fr.w])
	}
	fr.r = 0
	for fr.w < n {
		if fr.err != nil {
			return nil, truncated(fr.readErr())
		}
		m, err := fr.rd.Read(fr.buf[fr.w:])
		fr.w += m
		fr.err = err
	}
	fr.r = n
	return fr.buf[:n], nil
}

// Read reads buffered bytes first, then straight from the stream into p
// (for frames too large for the pooled buffer).
func (fr *frameReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if fr.r == fr.w {
		if fr.err != nil {
			return 0, fr.readErr()
		}
		fr.release()
		return fr.rd.Read(p)
	}
	n := copy(p, fr.buf[fr.r:fr.w])
	fr.r += n
	return n, nil
}

// Close returns the pooled buffer, if held; fr must not be used after.
func (fr *frameReader) Close() {
	if fr.pool != nil {
		readBufs.Put(fr.pool)
		fr.pool = nil
	}
	fr.buf, fr.r, fr.w = nil, 0, 0
}

var (
	_ io.ByteReader = (*frameReader)(nil)
	_ io.Reader     = (*frameReader)(nil)
)
