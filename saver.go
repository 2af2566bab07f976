package dnode

import (
	"context"
	"sync"
	"time"

	"github.com/dnode-p2p/dnode/internal/lifecycle"
)

// saver calls save every interval until stopped. Its goroutine is owned
// by the saver: stop ends it.
type saver struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

func startSaver(interval time.Duration, save func()) *saver {
	s := &saver{stopc: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				save()
			case <-s.stopc:
				return
			}
		}
	}()
	return s
}

// stop stops the saver and waits for a save in progress, at most until
// ctx is done; the error then wraps ctx.Err().
func (s *saver) stop(ctx context.Context) error {
	s.once.Do(func() { close(s.stopc) })
	return lifecycle.Wait(ctx, &s.wg, "hostlist saver")
}
