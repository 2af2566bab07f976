package dnode

import (
	"sync"
	"time"
)

// saver calls save every interval until stopped.
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

func (s *saver) stop() {
	s.once.Do(func() { close(s.stopc) })
	s.wg.Wait()
}
