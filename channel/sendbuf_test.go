package channel

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// fillWrite keeps the bytes in order, fills the buffer to maxWrite and no
// further, and leaves the rest of the parts untouched.
func TestFillWrite(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 2000 {
		buf := bytes.Repeat([]byte{1}, rng.IntN(maxWrite+1))
		before := len(buf)
		var parts [][]byte
		var all []byte
		for range rng.IntN(3) + 1 {
			p := make([]byte, rng.IntN(3*maxWrite))
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			parts = append(parts, p)
			all = append(all, p...)
		}
		rest := fillWrite(&buf, parts)
		if len(buf) > maxWrite && len(buf) != before {
			t.Fatalf("buffer of %d bytes filled to %d", before, len(buf))
		}
		got := append([]byte(nil), buf[before:]...)
		for _, p := range rest {
			got = append(got, p...)
		}
		if !bytes.Equal(got, all) {
			t.Fatal("bytes lost or reordered")
		}
		if len(rest) > 0 && len(buf) < maxWrite {
			t.Fatalf("buffer of %d bytes left with %d parts to go", len(buf), len(rest))
		}
	}
}
