package dchat

import (
	"testing"
	"time"
)

func id(b byte) msgID { return msgID{b} }

var t0 = time.Unix(1_700_000_000, 0)

func TestSeenCacheContainsAndExpiry(t *testing.T) {
	c := newSeenCache(10)
	if c.contains(id(1), t0) {
		t.Fatal("empty cache contains an id")
	}
	c.add(id(1), t0.Add(time.Minute), t0)
	if !c.contains(id(1), t0.Add(59*time.Second)) {
		t.Fatal("id forgotten before its expiry")
	}
	if c.contains(id(1), t0.Add(time.Minute)) {
		t.Fatal("id remembered at its expiry")
	}
	if c.size() != 0 {
		t.Fatalf("expired entry not removed on lookup: size %d", c.size())
	}
	// Re-adding an id whose stale queue item is still queued: popping the
	// stale item must not remove the new entry.
	c.add(id(1), t0.Add(3*time.Minute), t0.Add(2*time.Minute))
	if !c.contains(id(1), t0.Add(2*time.Minute)) {
		t.Fatal("re-added id lost")
	}
}

func TestSeenCacheLazyExpiryOnAdd(t *testing.T) {
	c := newSeenCache(100)
	for i := range 5 {
		c.add(id(byte(i)), t0.Add(time.Minute), t0)
	}
	// Adding after the first five expired drops them from map and queue.
	c.add(id(9), t0.Add(3*time.Minute), t0.Add(2*time.Minute))
	if c.size() != 1 || c.len() != 1 {
		t.Fatalf("size %d, queue %d, want 1 and 1", c.size(), c.len())
	}
}

func TestSeenCacheEvictsOldestAtMax(t *testing.T) {
	const max = 3
	c := newSeenCache(max)
	exp := t0.Add(time.Hour)
	for i := range 10 {
		c.add(id(byte(i)), exp, t0)
		if c.size() > max || c.len() > max {
			t.Fatalf("after %d adds: size %d, queue %d, bound %d", i+1, c.size(), c.len(), max)
		}
	}
	for i := range 7 {
		if c.contains(id(byte(i)), t0) {
			t.Errorf("id %d not evicted", i)
		}
	}
	for i := 7; i < 10; i++ {
		if !c.contains(id(byte(i)), t0) {
			t.Errorf("id %d evicted", i)
		}
	}
}

// The queue's storage is reclaimed: a long run keeps it near the bound.
func TestSeenCacheQueueCompacts(t *testing.T) {
	const max = 100
	c := newSeenCache(max)
	for i := range 100000 {
		var k msgID
		k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
		c.add(k, t0.Add(time.Hour), t0)
	}
	if c.size() != max || cap(c.queue) > 4*max {
		t.Fatalf("size %d, queue cap %d", c.size(), cap(c.queue))
	}
}
