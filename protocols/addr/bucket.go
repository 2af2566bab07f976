package addr

import "time"

// Token bucket for received addresses: Bitcoin's rate of 0.1 address per
// second with a cap of 1000 tokens, starting with 1; every GetAddrs we send
// credits 2·max tokens (the largest reply it may bring), even above the
// cap.
const (
	tokenRate  = 0.1
	tokenBurst = 1000
)

// bucket is a token bucket; it is not safe for concurrent use.
type bucket struct {
	tokens float64
	last   time.Time
}

func newBucket(now time.Time) bucket { return bucket{tokens: 1, last: now} }

// refill accrues tokens for the time since the last call, never above the
// cap (tokens already above it from credits are kept).
func (b *bucket) refill(now time.Time) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.tokens+dt*tokenRate, max(b.tokens, tokenBurst))
	}
	b.last = now
}

// credit adds n tokens.
func (b *bucket) credit(now time.Time, n int) {
	b.refill(now)
	b.tokens += float64(n)
}

// take spends up to n whole tokens and returns how many it spent.
func (b *bucket) take(now time.Time, n int) int {
	b.refill(now)
	allowed := min(n, int(b.tokens))
	b.tokens -= float64(allowed)
	return allowed
}
