package channel

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Every size gets a class whose buffer holds it and wastes at most
// a third (above the smallest class), and a class's buffer size maps back
// to the class.
func TestLargeClass(t *testing.T) {
	for n := scratchMax + 1; n <= largeMax; n += 1 + n/97 {
		class, size := largeClass(n)
		if size < n || class < 0 || class >= largeClasses {
			t.Fatalf("%d bytes: class %d of %d bytes", n, class, size)
		}
		if n > 1<<largeMinShift && 2*size > 3*n {
			t.Fatalf("%d bytes: class of %d bytes wastes more than a third", n, size)
		}
		if c2, s2 := largeClass(size); c2 != class || s2 != size {
			t.Fatalf("%d bytes: class %d/%d, its size maps to %d/%d", n, class, size, c2, s2)
		}
	}
}

// Large frames read into pooled buffers reach handlers intact, whether
// a filter dropped the frames before them or not: a buffer reused for the
// next frame does not change a message already handled.
func TestLargeFramesIntact(t *testing.T) {
	spec := NewProtocol[*wrapperspb.BytesValue]("big", "1.0.0", 1<<20, Metering{})
	rng := rand.New(rand.NewPCG(5, 6))
	var want [][]byte
	var in bytes.Buffer
	for i := range 40 {
		v := make([]byte, scratchMax+rng.IntN(300<<10))
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		v[0] = byte(i % 4) // the filter drops values starting with 3
		if err := WriteFrame(&in, &wrapperspb.BytesValue{Value: v}, 1<<20); err != nil {
			t.Fatal(err)
		}
		if v[0] != 3 {
			want = append(want, v)
		}
	}
	c, ctl := New(Config{Conn: fuzzConn{}, Network: "big", Session: Inbound, FrameTimeout: time.Second})
	spec.Filter(c, func(raw []byte) bool {
		var m wrapperspb.BytesValue
		return proto.Unmarshal(raw, &m) == nil && m.Value[0] != 3
	})
	var got []*wrapperspb.BytesValue
	spec.Handle(c, func(m *wrapperspb.BytesValue) error { got = append(got, m); return nil })
	ctl.Start()
	s := &fuzzStream{r: &in}
	ctl.ServeStream(spec.Spec(), s)
	if s.closed != 1 || c.Err() != nil {
		t.Fatalf("stream closed %d, reset %d, err %v", s.closed, s.reset, c.Err())
	}
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Value, want[i]) {
			t.Fatalf("message %d of %d bytes changed after later frames", i, len(want[i]))
		}
	}
	c.Stop(nil)
	<-c.Done()
}
