package ratelimit

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is a hand-moved time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterAdmitsABurstThenRefillsAtTheRate(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(60, 3, 100, c.now) // one a second, three at once

	for i := range 3 {
		ok, _ := l.Allow("a")
		assert.True(t, ok, "event %d of the burst", i+1)
	}
	ok, wait := l.Allow("a")
	assert.False(t, ok, "the fourth at once is refused")
	assert.Equal(t, time.Second, wait, "and told when a token is back")

	c.advance(999 * time.Millisecond)
	ok, _ = l.Allow("a")
	assert.False(t, ok, "a refused event takes no token, and none is back yet")
	c.advance(time.Millisecond)
	ok, _ = l.Allow("a")
	assert.True(t, ok, "one token a second")

	ok, _ = l.Allow("b")
	assert.True(t, ok, "each key has its own bucket")
}

func TestLimiterOffAdmitsEverything(t *testing.T) {
	l := New(0, 10)
	assert.Nil(t, l)
	for range 1000 {
		ok, wait := l.Allow("a")
		require.True(t, ok)
		require.Zero(t, wait)
	}
}

// A spray of distinct keys cannot grow the table past its bound: refilled
// buckets are forgotten, and keys beyond the bound share one bucket.
func TestLimiterMemoryIsBounded(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(60, 2, 100, c.now)

	for i := range 1000 {
		l.Allow("spray-" + strconv.Itoa(i))
	}
	assert.Equal(t, 100, l.Len(), "the table stops at its bound")
	ok1, _ := l.Allow("late-1")
	ok2, _ := l.Allow("late-2")
	assert.False(t, ok1, "keys past the bound share the overflow bucket, which the spray has drained")
	assert.False(t, ok2, "keys past the bound share the overflow bucket, which the spray has drained")

	c.advance(3 * time.Second) // every bucket has refilled
	ok, _ := l.Allow("fresh")
	assert.True(t, ok)
	assert.Equal(t, 1, l.Len(), "refilled buckets were forgotten to make room")
}
