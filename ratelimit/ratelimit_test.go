package ratelimit

import (
	"runtime"
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

// A spray of distinct keys cannot grow the table past its bound, and
// cannot lock anyone out: the least recently seen keys are forgotten (a
// forgotten key starts again with a full bucket), so a key never seen
// before always gets its first request through.
func TestLimiterMemoryIsBoundedAndLocksNoOneOut(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(60, 2, 100, c.now)

	for i := range 1000 {
		l.Allow("spray-" + strconv.Itoa(i))
	}
	assert.Equal(t, 100, l.Len(), "the table stops at its bound")
	refused := 0
	for i := range 200 {
		if ok, _ := l.Allow("new-" + strconv.Itoa(i)); !ok {
			refused++
		}
	}
	assert.Zero(t, refused, "every new key's first request gets through")
	assert.Equal(t, 100, l.Len())
}

// A busy key keeps its bucket through a spray smaller than the bound: it
// is recently used, so the spray's keys are the ones forgotten.
func TestLimiterKeepsLimitingABusyKeyThroughASpray(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(60, 2, 100, c.now)
	for range 2 {
		ok, _ := l.Allow("abuser")
		require.True(t, ok)
	}
	for i := range 1000 {
		l.Allow("spray-" + strconv.Itoa(i))
		if i%50 == 0 {
			ok, _ := l.Allow("abuser")
			assert.False(t, ok, "still limited after %d spray keys", i)
		}
	}
}

// The memory a key costs, measured: the figure docs/security.md states.
func TestLimiterMemoryPerKey(t *testing.T) {
	const n = 100_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := newLimiter(60, 2, n, time.Now)
	for i := range n {
		l.Allow("203.0.113." + strconv.Itoa(i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes a key (%d keys, %.1f MiB)", per, n, float64(after.HeapAlloc-before.HeapAlloc)/(1<<20))
	assert.Less(t, per, 400.0)
	runtime.KeepAlive(l)
}
