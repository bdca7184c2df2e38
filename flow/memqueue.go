package flow

import (
	"context"
	"sync"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/internal/safe"
)

// MemoryQueue is the lifecycle queue of a single instance: a bounded FIFO of
// per-key jobs in memory, run by a fixed pool of workers. A job for a key
// that is already waiting merges into it; one that arrives while its key is
// running waits for that run to end, so one user is never synced twice at
// once and no event is folded into a run that may have read Descope before
// it. What is queued dies with the process: `bridge reconcile` repairs it.
type MemoryQueue struct {
	size int

	mu      sync.Mutex
	cond    *sync.Cond
	order   []string // keys waiting, oldest first
	waiting map[string]*bridge.Job
	running map[string]bool
	// again holds keys that got a job while running: they re-enter order
	// when their run ends.
	again  map[string]bool
	closed bool
	// busy counts jobs being run, for Idle.
	busy int
}

var _ bridge.JobQueue = (*MemoryQueue)(nil)

// NewMemoryQueue returns a queue holding at most size waiting keys.
func NewMemoryQueue(size int) *MemoryQueue {
	q := &MemoryQueue{
		size:    size,
		waiting: map[string]*bridge.Job{},
		running: map[string]bool{},
		again:   map[string]bool{},
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Enqueue implements JobQueue: all of jobs are taken, or none when the
// new keys among them do not fit.
func (q *MemoryQueue) Enqueue(_ context.Context, jobs []bridge.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return bridge.ErrQueueClosed
	}
	fresh := 0
	seen := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		k := j.Key()
		if _, ok := q.waiting[k]; !ok && !seen[k] {
			fresh++
			seen[k] = true
		}
	}
	if len(q.waiting)+fresh > q.size {
		return bridge.ErrQueueFull
	}
	for _, j := range jobs {
		k := j.Key()
		if w, ok := q.waiting[k]; ok {
			w.Merge(j)
			continue
		}
		cp := j
		q.waiting[k] = &cp
		if q.running[k] {
			q.again[k] = true
		} else {
			q.order = append(q.order, k)
		}
	}
	q.cond.Broadcast()
	return nil
}

// Depth is the number of keys waiting.
func (q *MemoryQueue) Depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// Idle reports whether nothing waits and nothing runs.
func (q *MemoryQueue) Idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting) == 0 && q.busy == 0
}

// Close stops the queue taking jobs; Run's workers finish what is queued.
func (q *MemoryQueue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// next blocks until a job can run, and returns it; ok is false once the
// queue is closed and empty, or stop is set.
func (q *MemoryQueue) next(stop func() bool) (bridge.Job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if stop() {
			return bridge.Job{}, false
		}
		if len(q.order) > 0 {
			k := q.order[0]
			q.order[0] = ""
			q.order = q.order[1:]
			j := q.waiting[k]
			delete(q.waiting, k)
			q.running[k] = true
			q.busy++
			return *j, true
		}
		if q.closed {
			return bridge.Job{}, false
		}
		q.cond.Wait()
	}
}

func (q *MemoryQueue) done(k string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.running, k)
	q.busy--
	if q.again[k] {
		delete(q.again, k)
		q.order = append(q.order, k)
	}
	q.cond.Broadcast()
}

// Run runs jobs with h on workers goroutines until the queue is closed and
// drained, or until ctx ends (then jobs still waiting are left, and Run
// returns how many). A job h fails is retried with retry's backoff; after
// the last attempt it is dropped and reported to failed, if set.
func (q *MemoryQueue) Run(ctx context.Context, workers int, retry bridge.Retry, h bridge.JobHandler, failed func(bridge.Job, error)) int {
	stop := func() bool { return ctx.Err() != nil }
	// Wake waiting workers when ctx ends.
	stopWaking := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stopWaking()
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, ok := q.next(stop)
				if !ok {
					return
				}
				// A job that panics (a client's bad answer) fails like
				// one that errs, and the worker goes on.
				err := retry.Do(ctx, func(ctx context.Context) error {
					return safe.Do("lifecycle_job", func() error { return h(ctx, j) })
				})
				if err != nil && failed != nil {
					failed(j, err)
				}
				q.done(j.Key())
			}
		}()
	}
	wg.Wait()
	return q.Depth()
}

// WaitIdle waits until the queue is idle or ctx ends; it polls, and is for
// tests and for reporting, not for the hot path.
func (q *MemoryQueue) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !q.Idle() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
