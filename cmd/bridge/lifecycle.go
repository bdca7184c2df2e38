package main

import (
	"context"

	"errors"
	"log/slog"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/flow"
	"github.com/dfbridge/dfbridge/metrics"
	"github.com/dfbridge/dfbridge/redisstore"
	"github.com/dfbridge/dfbridge/webhook"
)

// jobQueue is a lifecycle queue with its workers: flow.MemoryQueue for
// one instance, redisstore.Queue for many.
type jobQueue interface {
	bridge.JobQueue
	Run(ctx context.Context, workers int, retry bridge.Retry, h bridge.JobHandler, failed func(bridge.Job, error)) int
	Close()
	Depth() int
}

// lifecycle is background lifecycle sync: the queue audit deliveries feed,
// the memory of accepted events, and the use case its workers run.
type lifecycle struct {
	cfg   *Config
	log   *slog.Logger
	m     *metrics.Metrics
	queue jobQueue
	marks webhook.EventMarks
	uc    *bridge.Lifecycle
	cache *flow.ExchangeCache
	// adoptions carries the Descope users of first exchanges to adopt
	// (see adopt); seen keeps each user's adoption to one per instance.
	adoptions chan string
	seen      *lru.Cache[string, struct{}]
}

// adoptionBuffer bounds the first exchanges waiting to be queued for
// adoption; past it they are dropped (counted): reconcile still reaches
// those accounts through their Descope users.
const adoptionBuffer = 4096

// adoptSeenSize is how many adopted users an instance remembers, so that
// repeat exchanges queue nothing.
const adoptSeenSize = 100_000

// adopt asks, without blocking, for the account of userID's exchange to be
// adopted by a background job: marked as the bridge's from its first
// sign-in, with no Admin API call on the exchange's path.
func (l *lifecycle) adopt(userID string) {
	if ok, _ := l.seen.ContainsOrAdd(userID, struct{}{}); ok {
		return
	}
	select {
	case l.adoptions <- userID:
	default:
		l.seen.Remove(userID)
		l.m.LifecycleJob(string(bridge.JobUser), "adopt_dropped")
	}
}

// queueAdoptions moves adoptions into the lifecycle queue until ctx ends.
func (l *lifecycle) queueAdoptions(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-l.adoptions:
			job := bridge.Job{Kind: bridge.JobUser, UserID: id, Adopt: time.Now().UnixMilli()}
			if err := l.queue.Enqueue(ctx, []bridge.Job{job}); err != nil {
				l.seen.Remove(id)
				l.m.LifecycleJob(string(bridge.JobUser), "adopt_dropped")
				l.log.Warn("first exchange not queued for adoption; reconcile reaches the account through its Descope user",
					"user_id", id, "error", err.Error())
			}
		}
	}
}

// newLifecycle builds lifecycle sync over Descope's and Firebase's
// management APIs as background work uses them (see backgroundAccess).
func newLifecycle(c *core, log *slog.Logger, m *metrics.Metrics, cache *flow.ExchangeCache, rdb *redis.Client,
	removed bridge.RemovedUsers) *lifecycle {
	cfg := c.cfg
	queue, marks := newJobQueue(cfg, log, m, rdb)
	access := c.backgroundAccess()
	uc := c.lifecycleUseCase(access.users, access.accounts, removed)
	uc.Roles, uc.Queue, uc.FanOutMax = access.roles, queue, cfg.Lifecycle.RoleFanOutMax
	seen, _ := lru.New[string, struct{}](adoptSeenSize)
	l := &lifecycle{cfg: cfg, log: log, m: m, queue: queue, marks: marks, cache: cache, uc: uc,
		adoptions: make(chan string, adoptionBuffer), seen: seen}
	m.QueueDepth(queue.Depth)
	// A role edit found by the scheduled reload of the role table (no
	// role event needed) re-syncs the role's holders too.
	c.roles.OnChange(func(names []string) {
		if err := queue.Enqueue(context.Background(), []bridge.Job{{Kind: bridge.JobRoles, Roles: names}}); err != nil {
			log.Warn("role change found, but its re-sync could not be queued; reconcile will converge it",
				"roles", names, "error", err.Error())
		}
	})
	return l
}

// newJobQueue is the lifecycle queue and the memory of accepted audit
// events: shared through Redis, or this instance's own.
func newJobQueue(cfg *Config, log *slog.Logger, m *metrics.Metrics, rdb *redis.Client) (jobQueue, webhook.EventMarks) {
	if rdb == nil {
		return flow.NewMemoryQueue(cfg.Lifecycle.QueueSize),
			webhook.NewMemoryMarks(cfg.Webhook.DedupeSize, cfg.Webhook.DedupeWindow)
	}
	q := redisstore.NewQueue(rdb, int64(cfg.Lifecycle.QueueSize), int64(cfg.Lifecycle.MaxAttempts))
	q.Visibility, q.Log, q.Metrics = cfg.Redis.VisibilityTimeout, log, m
	return q, &redisstore.Marks{RDB: rdb, TTL: cfg.Webhook.DedupeWindow, Metrics: m}
}

// run runs the workers until the queue is closed and drained or ctx ends;
// it returns how many jobs were left waiting.
func (l *lifecycle) run(ctx context.Context) int {
	go l.queueAdoptions(ctx)
	retry := bridge.DefaultRetry
	if _, shared := l.queue.(*redisstore.Queue); shared {
		// Redis delivers a failed job again (up to the max, then it is
		// dead-lettered): a few tries per delivery are enough.
		retry.Attempts = 3
		return l.queue.Run(ctx, l.cfg.Lifecycle.Workers, retry, l.handle, l.redelivered)
	}
	retry.Attempts = l.cfg.Lifecycle.MaxAttempts
	return l.queue.Run(ctx, l.cfg.Lifecycle.Workers, retry, l.handle, l.dropped)
}

// redelivered reports a shared-queue job that failed this delivery.
func (l *lifecycle) redelivered(j bridge.Job, err error) {
	l.m.LifecycleJob(string(j.Kind), "redeliver")
	l.log.Warn("lifecycle job failed this delivery; it is delivered again after LIFECYCLE_VISIBILITY_TIMEOUT",
		"kind", string(j.Kind), "user_id", j.UserID, "error", err.Error())
}

// handle runs one job: it converges, drops the user's cached exchanges,
// and logs and counts the outcome. An error no retry can fix is logged and
// the job is done; a retryable one is returned for the queue to retry.
func (l *lifecycle) handle(ctx context.Context, j bridge.Job) error {
	out, err := l.uc.Run(ctx, j)
	if j.Kind == bridge.JobUser {
		l.cache.Invalidate(j.UserID)
	}
	attrs := []slog.Attr{slog.String("kind", string(j.Kind)), slog.String("user_id", j.UserID)}
	switch {
	case err == nil:
		l.m.LifecycleJob(string(j.Kind), string(out))
		l.log.LogAttrs(ctx, slog.LevelInfo, "lifecycle job done", append(attrs, slog.String("outcome", string(out)))...)
		return nil
	case errors.Is(err, bridge.ErrFanOutCapped):
		l.m.LifecycleJob(string(j.Kind), "capped")
		l.log.LogAttrs(ctx, slog.LevelWarn, "role fan-out capped at LIFECYCLE_ROLE_FANOUT_MAX; reconcile converges the rest",
			append(attrs, slog.String("error", err.Error()))...)
		return nil
	case bridge.Retryable(err):
		l.m.LifecycleJob(string(j.Kind), "retry")
		l.log.LogAttrs(ctx, slog.LevelWarn, "lifecycle job failed; retrying", append(attrs, slog.String("error", err.Error()))...)
		return err
	default:
		l.m.LifecycleJob(string(j.Kind), "failed")
		l.log.LogAttrs(ctx, slog.LevelError, "lifecycle job cannot be applied",
			append(attrs, slog.String("code", string(bridge.CodeOf(err))), slog.String("error", err.Error()))...)
		return nil
	}
}

// dropped reports a job that failed its last attempt.
func (l *lifecycle) dropped(j bridge.Job, err error) {
	l.m.LifecycleJob(string(j.Kind), "dropped")
	l.log.Error("lifecycle job dropped after its last attempt; reconcile repairs it",
		"kind", string(j.Kind), "user_id", j.UserID, "attempts", l.cfg.Lifecycle.MaxAttempts, "error", err.Error())
}

// drain stops the queue taking jobs and lets the workers finish what is
// queued until deadline; what is left is logged for reconcile.
func (l *lifecycle) drain(deadline time.Time, stopWorkers context.CancelFunc, done <-chan int) {
	l.queue.Close()
	select {
	case left := <-done:
		l.log.Info("lifecycle queue drained", "left", left)
	case <-time.After(time.Until(deadline)):
		stopWorkers()
		left := <-done
		l.log.Warn("lifecycle jobs left at shutdown; the next reconcile repairs them", "left", left)
	}
}
