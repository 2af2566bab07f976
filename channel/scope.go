package channel

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
)

// ServiceName is the libp2p resource manager service every dnode stream
// is attached to, so that the resource manager (and its metrics) account
// dnode's streams and their buffers under one name.
const ServiceName = "dnode"

// streamMemory is what an incoming stream's reader holds at most besides
// a frame above scratchMax: its inline idle buffer and, while a frame is
// in progress or read ahead, one pooled read buffer (readbuf.go).
const streamMemory = idleBuffer + poolBuffer

// ScopeStream attaches s (its protocol set) to ServiceName and reserves
// reserve bytes of memory in its scope. release gives the reservation
// back; call it once when done reading (closing the stream also frees
// it). An error (the resource manager refused) leaves nothing reserved;
// the caller then resets s. Safe to call from any goroutine, once per
// stream.
func ScopeStream(s network.Stream, reserve int) (release func(), err error) {
	sc := s.Scope()
	if err := sc.SetService(ServiceName); err != nil {
		return nil, fmt.Errorf("stream scope: %w", err)
	}
	if reserve <= 0 {
		return func() {}, nil
	}
	if err := sc.ReserveMemory(reserve, network.ReservationPriorityAlways); err != nil {
		return nil, fmt.Errorf("stream scope: reserve %d bytes: %w", reserve, err)
	}
	return func() { sc.ReleaseMemory(reserve) }, nil
}
