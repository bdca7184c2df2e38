// Package ratelimit admits events per key (a client address, a user) with
// token buckets from golang.org/x/time/rate. The exchange uses it twice: per
// client IP before a token is even parsed, and per user once a session is
// verified. Memory is bounded, so a spray of distinct keys cannot grow it.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/dfbridge/dfbridge/bridge"
)

// MaxKeys bounds how many keys one Limiter tracks. At about 200 bytes a key
// that is a few MB at most; keys beyond it share one overflow bucket.
const MaxKeys = 10_000

// Limiter is a set of token buckets, one per key, each refilling at the same
// rate. It is safe for concurrent use; a nil *Limiter admits everything.
type Limiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	// idle is how long an untouched bucket takes to refill completely. A full
	// bucket is the same as a new one, so forgetting it changes nothing.
	idle time.Duration
	now  func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	overflow  *rate.Limiter
	lastSweep time.Time
}

var _ bridge.Limiter = (*Limiter)(nil)

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

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
	return &Limiter{
		limit:    limit,
		burst:    burst,
		maxKeys:  maxKeys,
		idle:     time.Duration(float64(burst) / float64(limit) * float64(time.Second)),
		now:      now,
		buckets:  map[string]*bucket{},
		overflow: rate.NewLimiter(limit, burst),
	}
}

// Allow takes one token from key's bucket. When the bucket is empty it takes
// nothing and says how long until a token is there.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	r := l.bucketFor(key, now).ReserveN(now, 1)
	if !r.OK() {
		return false, l.idle
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// bucketFor returns key's bucket, creating it if there is room. When the table
// is full it first forgets refilled buckets (at most once a second, so a
// spray of new keys cannot make every call a full sweep); failing that, the
// key shares the overflow bucket, which fails closed rather than growing.
func (l *Limiter) bucketFor(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		b.seen = now
		return b.lim
	}
	if len(l.buckets) >= l.maxKeys && now.Sub(l.lastSweep) >= time.Second {
		l.lastSweep = now
		for k, b := range l.buckets {
			if now.Sub(b.seen) >= l.idle {
				delete(l.buckets, k)
			}
		}
	}
	if len(l.buckets) >= l.maxKeys {
		return l.overflow
	}
	b := &bucket{lim: rate.NewLimiter(l.limit, l.burst), seen: now}
	l.buckets[key] = b
	return b.lim
}

// Len returns how many keys have their own bucket.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
