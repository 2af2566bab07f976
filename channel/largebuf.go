package channel

import (
	"io"
	"math/bits"
	"sync"
)

// Frames above scratchMax are read into buffers from size-class pools
// when they are decoded (proto.Unmarshal copies what it keeps) or dropped
// by a filter (filters must not keep raw), and the buffer goes back to
// its pool once the frame is handled: a steady stream of large messages
// then costs no allocation for the frame itself, only for the decoded
// message, and an idle stream holds none. Frames for a raw handler, which
// may keep them, get an allocation of their exact size, as do frames
// above largeMax.

// largeMax is the largest frame read into a pooled buffer.
const largeMax = 16 << 20

// Size classes are 2^k and 1.5 × 2^k bytes from 8 KiB to largeMax, so a
// buffer wastes at most a third of itself.
const (
	largeMinShift = 13 // 8 KiB
	largeClasses  = 2 * (24 - largeMinShift + 1)
)

// largeBufs holds one pool per size class. Pools hold no state that
// matters between nodes: any buffer of a class serves any stream.
var largeBufs [largeClasses]sync.Pool

// largeClass returns the class of a frame of n bytes (scratchMax < n ≤
// largeMax) and the class's buffer size.
func largeClass(n int) (class, size int) {
	shift := bits.Len(uint(n - 1)) // 2^shift ≥ n
	shift = max(shift, largeMinShift)
	if half := 3 << (shift - 2); shift > largeMinShift && n <= half {
		return 2*(shift-largeMinShift) - 1, half // 1.5 × 2^(shift-1)
	}
	return 2 * (shift - largeMinShift), 1 << shift
}

// readLarge reads a frame's payload of n bytes (n > scratchMax) from r.
// Unless ps has a raw handler or n is above largeMax, the buffer comes
// from a pool and pooled is set: pass it to releaseLarge once nothing
// refers to buf.
func (c *Channel) readLarge(ps *protoState, r io.Reader, n int) (buf []byte, pooled *[]byte, err error) {
	c.mu.Lock()
	raw := ps.raw != nil
	c.mu.Unlock()
	if raw || n > largeMax {
		buf, err = readPayload(r, n)
		return buf, nil, err
	}
	class, size := largeClass(n)
	bp, _ := largeBufs[class].Get().(*[]byte)
	if bp == nil {
		b := make([]byte, size)
		bp = &b
	}
	buf = (*bp)[:n:n]
	if err := readFull(r, buf); err != nil {
		releaseLarge(bp)
		return nil, nil, err
	}
	return buf, bp, nil
}

// releaseLarge returns a buffer from readLarge to its pool; nil is
// ignored.
func releaseLarge(bp *[]byte) {
	if bp == nil {
		return
	}
	class, size := largeClass(cap(*bp))
	if size != cap(*bp) {
		return // not one of ours
	}
	largeBufs[class].Put(bp)
}
