package channel

import (
	"time"

	"github.com/benbjohnson/clock"
)

const second = time.Second

func newTestClock() *clock.Mock { return clock.NewMock() }
