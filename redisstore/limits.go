package redisstore

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/dfbridge/dfbridge/flow"
	"github.com/dfbridge/dfbridge/internal/safe"
	"github.com/dfbridge/dfbridge/metrics"
)

// Limits are the per-address and per-user exchange limits shared by every
// instance: GCRA in Redis, from redis_rate. Both checks of one exchange go
// to Redis in one pipeline, one round trip. When Redis fails or is slower
// than Timeout, the exchange is judged by the per-instance limiters instead
// (Fallback), so exchanges keep working; the episode is logged once and
// counted.
type Limits struct {
	RDB    *redis.Client
	Client redis_rate.Limit
	User   redis_rate.Limit
	// Timeout bounds the round trip; default 50 ms.
	Timeout time.Duration
	// Fallback judges users while Redis is away (the per-address limit is
	// judged per instance before verification either way).
	Fallback flow.Limiter
	Log      *slog.Logger
	Metrics  *metrics.Metrics
}

var _ flow.ExchangeLimiter = (*Limits)(nil)

// NewLimits returns limits of perMinute and burst per client address and
// per user; a perMinute of 0 turns that limit off.
func NewLimits(rdb *redis.Client, clientPerMinute, clientBurst, userPerMinute, userBurst int) *Limits {
	l := &Limits{RDB: rdb, Timeout: 50 * time.Millisecond}
	if clientPerMinute > 0 {
		l.Client = redis_rate.Limit{Rate: clientPerMinute, Burst: max(clientBurst, 1), Period: time.Minute}
	}
	if userPerMinute > 0 {
		l.User = redis_rate.Limit{Rate: userPerMinute, Burst: max(userBurst, 1), Period: time.Minute}
	}
	return l
}

// AllowExchange implements flow.ExchangeLimiter.
func (l *Limits) AllowExchange(ctx context.Context, client, userID string) (bool, time.Duration, string) {
	type check struct {
		scope, key string
		limit      redis_rate.Limit
	}
	var checks []check
	if !l.Client.IsZero() && client != "" {
		checks = append(checks, check{"client", "dfb:c:" + hashKey(client), l.Client})
	}
	if !l.User.IsZero() {
		checks = append(checks, check{"user", "dfb:u:" + hashKey(userID), l.User})
	}
	if len(checks) == 0 {
		return true, 0, ""
	}
	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, l.Timeout)
	defer cancel()
	start := time.Now()
	// redis_rate runs its GCRA script with EVALSHA; the batch gathers the
	// checks' calls and sends them as one pipeline.
	b := &batch{Client: l.RDB, want: len(checks), done: make(chan struct{})}
	lim := redis_rate.NewLimiter(b)
	results := make([]*redis_rate.Result, len(checks))
	errs := make([]error, len(checks))
	// The last check runs on this goroutine: one goroutine more per
	// exchange, not two.
	var wg sync.WaitGroup
	for i, c := range checks[:len(checks)-1] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = allow(ctx, lim, c.key, c.limit)
		}()
	}
	last := len(checks) - 1
	results[last], errs[last] = allow(ctx, lim, checks[last].key, checks[last].limit)
	wg.Wait()
	l.Metrics.RedisCall("limits", time.Since(start))
	for _, err := range errs {
		switch {
		case err == nil:
		case caller.Err() != nil:
			// The caller went away: not Redis's failure, and no episode.
			return l.judgeLocally(userID)
		default:
			return l.fallback(userID, err)
		}
	}
	l.recovered()
	for i, r := range results {
		if r.Allowed == 0 {
			return false, r.RetryAfter, checks[i].scope
		}
	}
	return true, 0, ""
}

// allow is one GCRA check; a reply redis_rate cannot read (it asserts
// reply types unchecked and panics) is an error, so the exchange falls back.
func allow(ctx context.Context, lim *redis_rate.Limiter, key string, limit redis_rate.Limit) (res *redis_rate.Result, err error) {
	defer safe.Catch("redis_rate", &err)
	return lim.Allow(ctx, key, limit)
}

// fallback judges the exchange per instance while Redis is away.
func (l *Limits) fallback(userID string, err error) (bool, time.Duration, string) {
	l.Metrics.RecoveredPanic(err)
	OutageOf(l.RDB, l.Log, l.Metrics).Fail("limits", err)
	return l.judgeLocally(userID)
}

// judgeLocally is the per-instance judgement of a user's exchange.
func (l *Limits) judgeLocally(userID string) (bool, time.Duration, string) {
	if l.Fallback == nil {
		return true, 0, ""
	}
	ok, wait := l.Fallback.Allow(userID)
	return ok, wait, "user"
}

func (l *Limits) recovered() { OutageOf(l.RDB, l.Log, l.Metrics).OK() }

// batch is a redis_rate back end that sends the EVALSHA calls of several
// concurrent checks as one pipeline: each call waits until want calls have
// arrived, the last one runs the pipeline, and every call gets its own
// answer. Anything else goes to the client as usual.
type batch struct {
	*redis.Client
	want int

	mu    sync.Mutex
	calls []*evalCall
	done  chan struct{}
}

type evalCall struct {
	sha  string
	keys []string
	args []any
	// val and err are written by the call that runs the pipeline, before
	// it closes done; the others read them only after done is closed.
	val any
	err error
}

// EvalSha queues the call and returns once the pipeline has run (or its
// context ended).
func (b *batch) EvalSha(ctx context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	c := &evalCall{sha: sha, keys: keys, args: args}
	b.mu.Lock()
	b.calls = append(b.calls, c)
	last := len(b.calls) == b.want
	b.mu.Unlock()
	cmd := redis.NewCmd(ctx)
	if !last {
		select {
		case <-b.done:
			cmd.SetVal(c.val)
			cmd.SetErr(c.err)
		case <-ctx.Done():
			cmd.SetErr(ctx.Err())
		}
		return cmd
	}
	pipe := b.Client.Pipeline()
	cmds := make([]*redis.Cmd, len(b.calls))
	for i, call := range b.calls {
		cmds[i] = pipe.EvalSha(ctx, call.sha, call.keys, call.args...)
	}
	_, _ = pipe.Exec(ctx)
	for i, call := range b.calls {
		call.val, call.err = cmds[i].Val(), cmds[i].Err()
	}
	close(b.done)
	cmd.SetVal(c.val)
	cmd.SetErr(c.err)
	return cmd
}
