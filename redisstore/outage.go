package redisstore

import (
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dfbridge/dfbridge/metrics"
)

// Outage is one Redis client's episodes of unreachability, shared by every
// store on that client (the limits, the removed-user marks, the queue), so
// an outage is logged once when it starts and once when it ends, with the
// count of calls that fell back meanwhile, however many stores and calls
// meet it. go-redis's own messages (a failed dial for every pooled
// connection) are folded in: the first after a quiet spell is logged, the
// rest are counted into the end line.
type Outage struct {
	log     *slog.Logger
	metrics *metrics.Metrics

	// active mirrors down for the calls that find Redis answering (every
	// exchange's limit check), so they take no lock when no episode runs.
	active atomic.Bool
	mu     sync.Mutex
	down   bool
	since  time.Time
	fell   map[string]int
	// okSince is when Redis began answering again in an episode; the
	// episode ends once it has answered for settle with no failure, so
	// the reconnect's first slow calls do not start a new one.
	okSince time.Time
}

// settle is how long Redis must answer, with no call failing, before an
// episode is over.
const settle = time.Second

var outages sync.Map // *redis.Client → *Outage

// OutageOf is rdb's outage record; log and m are used by the first caller.
func OutageOf(rdb *redis.Client, log *slog.Logger, m *metrics.Metrics) *Outage {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o, ok := outages.Load(rdb); ok {
		return o.(*Outage)
	}
	o, _ := outages.LoadOrStore(rdb, &Outage{log: log, metrics: m, fell: map[string]int{}})
	return o.(*Outage)
}

// Fail records that component's call fell back because of err: the first
// of an episode is logged, and the first per component is counted as an
// episode of that component's fallback.
func (o *Outage) Fail(component string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fell[component] == 0 {
		o.metrics.RedisFallback(component)
	}
	o.fell[component]++
	o.okSince = time.Time{}
	if o.down {
		return
	}
	o.down, o.since = true, time.Now()
	o.active.Store(true)
	o.log.Warn("redis unreachable or slow: the shared limits, marks and queue fall back to this instance until it answers",
		"component", component, "error", err.Error())
}

// OK records a call that Redis answered: once Redis has answered for
// settle with no failure, it ends the episode in progress, logging how
// long it lasted and what fell back.
func (o *Outage) OK() {
	if !o.active.Load() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.down {
		return
	}
	now := time.Now()
	if o.okSince.IsZero() {
		o.okSince = now
	}
	if now.Sub(o.okSince) < settle {
		return
	}
	total := 0
	parts := make([]string, 0, len(o.fell))
	for c, n := range o.fell {
		total += n
		parts = append(parts, c)
	}
	sort.Strings(parts)
	attrs := []any{"after_ms", o.okSince.Sub(o.since).Milliseconds(), "calls_fell_back", total,
		"client_messages", clientMessages.Swap(0)}
	for _, c := range parts {
		attrs = append(attrs, "fell_back_"+c, o.fell[c])
	}
	o.log.Info("redis answers again: shared state is back", attrs...)
	clientArmed.Store(true)
	o.down, o.fell = false, map[string]int{}
	o.active.Store(false)
}

// Down reports whether an episode is in progress.
func (o *Outage) Down() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.down
}

// go-redis's messages between episodes: the next one is logged while
// clientArmed, the others counted.
var (
	clientArmed    atomic.Bool
	clientMessages atomic.Int64
)

func init() { clientArmed.Store(true) }
