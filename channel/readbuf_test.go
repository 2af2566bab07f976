package channel

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
)

// chunkReader returns its data in reads of at most a random size (1 to
// max bytes), and calls hook before each read.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
	max  int
	hook func()
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.hook != nil {
		c.hook()
	}
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.rng.IntN(c.max))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// frames returns k frames of random sizes (some empty, some above the
// pooled buffer) with random contents, and their encoding.
func frames(rng *rand.Rand, k int) ([][]byte, []byte) {
	var out [][]byte
	var enc []byte
	for range k {
		var n int
		switch rng.IntN(4) {
		case 0:
			n = rng.IntN(idleBuffer)
		case 1:
			n = rng.IntN(poolBuffer + 1)
		case 2:
			n = poolBuffer - idleBuffer + rng.IntN(2*idleBuffer)
		default:
			n = poolBuffer + 1 + rng.IntN(3*poolBuffer)
		}
		f := make([]byte, n)
		for i := range f {
			f[i] = byte(rng.Uint32())
		}
		out = append(out, f)
		enc = binary.AppendUvarint(enc, uint64(n))
		enc = append(enc, f...)
	}
	return out, enc
}

// readFrames reads frames from fr as readLoop does: small ones from the
// pooled buffer, large ones into their own allocation. check is called
// with each frame while it is still in the reader's buffer.
func readFrames(fr *frameReader, check func(i int, got []byte)) (int, error) {
	for i := 0; ; i++ {
		first, err := fr.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return i, nil
			}
			return i, err
		}
		n, err := readFrameLen(first, fr, 1<<20)
		if err != nil {
			return i, err
		}
		var buf []byte
		if n <= scratchMax {
			buf, err = fr.payload(n)
		} else {
			buf, err = readPayload(fr, n)
		}
		if err != nil {
			return i, err
		}
		check(i, buf)
	}
}

// TestFrameReaderFramesIntact reads random frames in random read sizes on
// many streams at once, all sharing the pool, and checks every frame's
// bytes while they are in the pooled buffer (under -race this also checks
// that no two streams share a buffer).
func TestFrameReaderFramesIntact(t *testing.T) {
	const streams, perStream = 16, 300
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for s := range streams {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(s), 7))
			want, enc := frames(rng, perStream)
			fr := newFrameReader(&chunkReader{data: enc, rng: rng, max: []int{1, 7, 100, 5000, 1 << 16}[s%5]})
			defer fr.Close()
			n, err := readFrames(fr, func(i int, got []byte) {
				if !bytes.Equal(got, want[i]) {
					errs <- errors.New("frame corrupted")
				}
				// Scribble over the buffer: the next frame must not
				// depend on what a handler did to this one's bytes.
				for j := range got {
					got[j] = 0xAA
				}
			})
			if err != nil || n != perStream {
				errs <- errors.Join(err, errors.New("frames lost"))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestFrameReaderIdleHoldsNoBuffer checks the point of the reader: every
// read that waits for the next frame (nothing buffered, at a frame
// boundary) happens with the pooled buffer returned, while frames above
// the idle buffer were read through the pool.
func TestFrameReaderIdleHoldsNoBuffer(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	want, enc := frames(rng, 200)
	var fr *frameReader
	atBoundary, idleWaits, pooled := false, 0, 0
	cr := &chunkReader{data: enc, rng: rng, max: 3000, hook: func() {
		if atBoundary {
			idleWaits++
			if fr.pool != nil {
				t.Fatal("waiting for a frame while holding a pooled buffer")
			}
		}
	}}
	fr = newFrameReader(cr)
	defer fr.Close()
	for i := 0; ; i++ {
		atBoundary = fr.Buffered() == 0
		first, err := fr.ReadByte()
		atBoundary = false
		if errors.Is(err, io.EOF) {
			if i != len(want) {
				t.Fatalf("read %d frames, want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n, err := readFrameLen(first, fr, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		if n <= scratchMax {
			got, err = fr.payload(n)
			if fr.pool != nil {
				pooled++
			}
		} else {
			got, err = readPayload(fr, n)
		}
		if err != nil || !bytes.Equal(got, want[i]) {
			t.Fatalf("frame %d: %v, intact %v", i, err, bytes.Equal(got, want[i]))
		}
	}
	if idleWaits == 0 || pooled == 0 {
		t.Fatalf("the test did not exercise both states: %d idle waits, %d frames through the pool", idleWaits, pooled)
	}
}

// TestFrameReaderTruncated checks that a stream ending inside a frame is a
// violation on both paths, that an error arriving with the last bytes is
// returned after them, and that Close returns the buffer.
func TestFrameReaderTruncated(t *testing.T) {
	for _, n := range []int{10, 3000, scratchMax + 10} {
		enc := binary.AppendUvarint(nil, uint64(n))
		enc = append(enc, make([]byte, n-1)...)
		fr := newFrameReader(&chunkReader{data: enc, rng: rand.New(rand.NewPCG(3, 4)), max: 1000})
		_, err := readFrames(fr, func(int, []byte) { t.Fatal("a truncated frame was handed out") })
		if !errors.Is(err, ErrViolation) {
			t.Errorf("frame of %d cut short: %v, want a violation", n, err)
		}
		fr.Close()
		if fr.pool != nil {
			t.Error("Close kept the pooled buffer")
		}
	}
	// Data and an error in the same read: the frame first, then the error.
	boom := errors.New("boom")
	enc := binary.AppendUvarint(nil, 200)
	enc = append(enc, bytes.Repeat([]byte{1}, 200)...)
	fr := newFrameReader(&iotestDataErr{data: enc, err: boom})
	defer fr.Close()
	got := 0
	_, err := readFrames(fr, func(int, []byte) { got++ })
	if got != 1 || !errors.Is(err, boom) {
		t.Fatalf("got %d frames and %v, want 1 and boom", got, err)
	}
}

// iotestDataErr returns its data, and err with the read that returns
// the last bytes and with every read after.
type iotestDataErr struct {
	data []byte
	err  error
}

func (r *iotestDataErr) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, r.err
	}
	return n, nil
}

// BenchmarkFrameReader reads 1 KiB frames back to back through the
// frameReader, as readLoop does; BenchmarkBufioScratch through the
// reader it replaced (a 2 KiB bufio.Reader and a scratch copy).
func BenchmarkFrameReader(b *testing.B) {
	enc := benchFrames(b)
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		fr := newFrameReader(bytes.NewReader(enc))
		if _, err := readFrames(fr, func(int, []byte) {}); err != nil {
			b.Fatal(err)
		}
		fr.Close()
	}
}

func BenchmarkBufioScratch(b *testing.B) {
	enc := benchFrames(b)
	b.SetBytes(int64(len(enc)))
	scratch := make([]byte, scratchMax)
	for b.Loop() {
		br := bufio.NewReaderSize(bytes.NewReader(enc), 2048)
		for {
			first, err := br.ReadByte()
			if err != nil {
				break
			}
			n, err := readFrameLen(first, br, 1<<20)
			if err != nil {
				b.Fatal(err)
			}
			if err := readFull(br, scratch[:n]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// benchFrames is 256 frames of 1 KiB.
func benchFrames(b *testing.B) []byte {
	var enc []byte
	frame := bytes.Repeat([]byte{7}, 1024)
	for range 256 {
		enc = binary.AppendUvarint(enc, uint64(len(frame)))
		enc = append(enc, frame...)
	}
	return enc
}
