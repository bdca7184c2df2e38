// Package ratelimit admits events per key (a client address, a user) with
// token buckets from golang.org/x/time/rate. The exchange uses it twice: per
// client IP before a token is even parsed, and per user once a session is
// verified. Memory is bounded, so a spray of distinct keys cannot grow it,
// and the bound is kept by forgetting, never by sharing: a key never seen
// before always gets its first request through.
package ratelimit

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"

	"github.com/dfbridge/dfbridge/flow"
)

// MaxKeys bounds how many keys one Limiter tracks: about 210 bytes a key
// with its bucket (TestLimiterMemoryPerKey), plus the key itself, so about
// 12 MiB at most.
// Past it the least recently seen key is forgotten; a forgotten key starts
// again with a full bucket. A key is limited exactly as long as fewer than
// MaxKeys other keys are seen between two of its requests: a spray of more
// distinct keys than that within one refill time (burst / rate) resets the
// limits of the keys it pushes out, and refuses no one.
const MaxKeys = 50_000

// Limiter is a set of token buckets, one per key, each refilling at the same
// rate. It is safe for concurrent use; a nil *Limiter admits everything.
type Limiter struct {
	limit rate.Limit
	burst int
	// idle is how long an empty bucket takes to refill completely.
	idle time.Duration
	now  func() time.Time

	mu      sync.Mutex
	buckets *simplelru.LRU[string, *rate.Limiter]
}

var _ flow.Limiter = (*Limiter)(nil)

// New returns a Limiter admitting perMinute events a minute per key, with
// bursts of up to burst. perMinute 0 turns limiting off: New returns nil.
func New(perMinute, burst int) *Limiter {
	return newLimiter(perMinute, burst, MaxKeys, time.Now)
}

func newLimiter(perMinute, burst, maxKeys int, now func() time.Time) *Limiter {
	if perMinute <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	limit := rate.Limit(float64(perMinute) / 60)
	buckets, err := simplelru.NewLRU[string, *rate.Limiter](maxKeys, nil)
	if err != nil {
		panic(err) // maxKeys is a positive constant
	}
	return &Limiter{
		limit:   limit,
		burst:   burst,
		idle:    time.Duration(float64(burst) / float64(limit) * float64(time.Second)),
		now:     now,
		buckets: buckets,
	}
}

// Allow takes one token from key's bucket. When the bucket is empty it takes
// nothing and says how long until a token is there.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	r := l.bucketFor(key).ReserveN(now, 1)
	if !r.OK() {
		return false, l.idle
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// bucketFor returns key's bucket, creating a full one if key is not known
// (forgetting the least recently seen key when the table is full).
func (l *Limiter) bucketFor(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets.Get(key); ok {
		return b
	}
	b := rate.NewLimiter(l.limit, l.burst)
	l.buckets.Add(key, b)
	return b
}

// Len returns how many keys have their own bucket.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buckets.Len()
}

// Exhausted reports whether key's bucket is known and empty, taking
// nothing: a check before work that only failures are charged for.
func (l *Limiter) Exhausted(key string) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	b, ok := l.buckets.Peek(key)
	l.mu.Unlock()
	return ok && b.TokensAt(l.now()) < 1
}
