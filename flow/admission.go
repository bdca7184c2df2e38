package flow

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/dfbridge/dfbridge/bridge"

	"golang.org/x/sync/semaphore"
)

// Admission runs at most a fixed number of exchanges at once and makes the
// rest wait their turn in one first-come-first-served queue. An exchange
// signing with a local key is CPU work from end to end (verify, map,
// sign): with more of them running than there are cores, the scheduler
// interleaves them and the order they finish in is its choice, so the
// slowest wait many times the median. Admitted in arrival order, each
// waits only for those ahead of it, and the tail stays close to the
// median. A queue longer than MaxQueue, or a wait longer than MaxWait,
// sheds the request with CodeBusy (503, Retry-After) rather than letting
// latency grow without bound.
type Admission struct {
	next     bridge.Exchanger
	slots    *semaphore.Weighted
	queued   atomic.Int64
	maxQueue int64
	maxWait  time.Duration
	// Observe, when set, is told how long each admitted exchange waited.
	Observe func(wait time.Duration)
}

var _ bridge.Exchanger = (*Admission)(nil)

// AdmissionConfig sizes the queue.
type AdmissionConfig struct {
	// InFlight is how many exchanges run at once, normally a small
	// multiple of the cores the process may use.
	InFlight int
	// MaxQueue is how many may wait; more are shed at once.
	MaxQueue int
	// MaxWait is the longest an exchange waits for its turn.
	MaxWait time.Duration
}

// NewAdmission wraps next with a first-come-first-served admission queue.
func NewAdmission(next bridge.Exchanger, cfg AdmissionConfig) (*Admission, error) {
	if cfg.InFlight < 1 || cfg.MaxQueue < 0 || cfg.MaxWait <= 0 {
		return nil, errors.New("admission needs at least one exchange in flight, a queue of zero or more and a positive wait")
	}
	return &Admission{next: next, slots: semaphore.NewWeighted(int64(cfg.InFlight)),
		maxQueue: int64(cfg.MaxQueue), maxWait: cfg.MaxWait}, nil
}

// Exchange waits for its turn, then exchanges token.
func (a *Admission) Exchange(ctx context.Context, token string) (*bridge.Result, error) {
	if err := a.admit(ctx); err != nil {
		return nil, err
	}
	defer a.slots.Release(1)
	return a.next.Exchange(ctx, token)
}

// ExchangeSession waits for its turn, then exchanges s.
func (a *Admission) ExchangeSession(ctx context.Context, s *bridge.Session) (*bridge.Result, error) {
	if err := a.admit(ctx); err != nil {
		return nil, err
	}
	defer a.slots.Release(1)
	return a.next.ExchangeSession(ctx, s)
}

// admit waits for a slot in arrival order (semaphore.Weighted serves
// waiters first in, first out); the caller releases it. A caller that
// gives up while waiting leaves with its context's error.
func (a *Admission) admit(ctx context.Context) error {
	start := time.Now()
	if !a.slots.TryAcquire(1) {
		if a.queued.Add(1) > a.maxQueue {
			a.queued.Add(-1)
			return bridge.Errorf(bridge.CodeBusy, "exchange queue full")
		}
		wctx, cancel := context.WithTimeout(ctx, a.maxWait)
		err := a.slots.Acquire(wctx, 1)
		cancel()
		a.queued.Add(-1)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return bridge.Errorf(bridge.CodeBusy, "waited %s for a turn", a.maxWait)
		}
	}
	if a.Observe != nil {
		a.Observe(time.Since(start))
	}
	return nil
}
