package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/internal/safe"
	"github.com/dfbridge/dfbridge/metrics"
)

// Stream, group and key names of the queue.
const (
	queueStream = "dfb:q:jobs"
	deadStream  = "dfb:q:dead"
	queueGroup  = "dfbridge"
	// waitingPrefix marks a key (a user) with a job waiting, for
	// coalescing; it holds nothing but 1.
	waitingPrefix = "dfb:q:w:"
	// attemptsKey counts deliveries per stream entry.
	attemptsKey = "dfb:q:attempts"
)

// enqueueScript adds each job whose key has none waiting: it sets the
// waiting marker with NX and, only if it was set, XADDs the job, so a user
// named by ten events waits once. One script call per chunk of jobs keeps a
// 20,000-user delivery to a few round trips.
var enqueueScript = redis.NewScript(`
local added = 0
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', ARGV[2], '*', 'k', KEYS[i], 'j', ARGV[2 + i])
    added = added + 1
  end
end
return added
`)

// Queue is the lifecycle queue shared by every instance: per-user jobs on a
// Redis Stream read through one consumer group. A job is acknowledged only
// after its handler has converged the account (or found it can never
// succeed); a job whose consumer died is claimed by another instance after
// Visibility (XAUTOCLAIM); a job delivered MaxDeliveries times is moved to
// the dead-letter stream and counted. When Redis is unreachable, Enqueue
// fails, and the webhook answers 503 so Descope retries.
//
// A job's values are in clear: its Descope user ID, and the login IDs
// (often emails) of an event naming one user, which a deleted user's
// account may be found by. They stay until the job is acknowledged, or in
// the dead-letter stream until an operator trims it; the coalescing
// markers are keyed by a hash. Redis must therefore be as private as the
// user directory: AUTH, TLS and no public address (docs/deployment.md).
type Queue struct {
	RDB *redis.Client
	// Size bounds the stream's length; beyond it Enqueue answers
	// bridge.ErrQueueFull.
	Size int64
	// Visibility is how long a delivered job may stay unacknowledged
	// before another consumer takes it; default 30 s.
	Visibility time.Duration
	// MaxDeliveries is how many deliveries a job gets before it is
	// dead-lettered; default 5.
	MaxDeliveries int64
	// WaitingTTL bounds a coalescing marker left by a crash between its
	// job's delivery and its removal; default 1 h.
	WaitingTTL time.Duration
	Log        *slog.Logger
	Metrics    *metrics.Metrics

	consumer string
	closed   atomic.Bool
}

// NewQueue returns a queue over rdb with a consumer name unique to this
// process.
func NewQueue(rdb *redis.Client, size int64, maxDeliveries int64) *Queue {
	host, _ := os.Hostname()
	return &Queue{
		RDB: rdb, Size: size, Visibility: 30 * time.Second, MaxDeliveries: maxDeliveries, WaitingTTL: time.Hour,
		consumer: fmt.Sprintf("%s-%d-%d", host, os.Getpid(), time.Now().UnixNano()),
	}
}

var _ bridge.JobQueue = (*Queue)(nil)

// Enqueue implements bridge.JobQueue.
func (q *Queue) Enqueue(ctx context.Context, jobs []bridge.Job) error {
	if q.closed.Load() {
		return bridge.ErrQueueClosed
	}
	if len(jobs) == 0 {
		return nil
	}
	start := time.Now()
	defer func() { q.Metrics.RedisCall("enqueue", time.Since(start)) }()
	n, err := q.RDB.XLen(ctx, queueStream).Result()
	if err != nil {
		return fmt.Errorf("%w: %w", bridge.ErrQueueUnavailable, err)
	}
	if n+int64(len(jobs)) > q.Size {
		return bridge.ErrQueueFull
	}
	// Merge jobs for one key within the batch first: the script keeps
	// only the first job of a key.
	merged := map[string]*bridge.Job{}
	var order []string
	for _, j := range jobs {
		k := j.Key()
		if m, ok := merged[k]; ok {
			m.Merge(j)
			continue
		}
		cp := j
		merged[k] = &cp
		order = append(order, k)
	}
	const chunk = 500
	for from := 0; from < len(order); from += chunk {
		part := order[from:min(from+chunk, len(order))]
		keys := make([]string, len(part))
		args := make([]any, 0, len(part)+2)
		args = append(args, int(q.WaitingTTL.Seconds()), queueStream)
		for i, k := range part {
			keys[i] = waitingPrefix + hashKey(k)
			b, err := json.Marshal(merged[k])
			if err != nil {
				return err
			}
			args = append(args, string(b))
		}
		if err := enqueueScript.Run(ctx, q.RDB, keys, args...).Err(); err != nil {
			return fmt.Errorf("%w: %w", bridge.ErrQueueUnavailable, err)
		}
	}
	return nil
}

// Depth is the number of jobs in the stream (waiting or being run).
func (q *Queue) Depth() int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := q.RDB.XLen(ctx, queueStream).Result()
	if err != nil {
		return 0
	}
	return int(n)
}

// Close stops the queue taking jobs and Run reading new ones; jobs already
// read finish, and unread ones stay in Redis for the other instances.
func (q *Queue) Close() { q.closed.Store(true) }

// Prepare creates the queue's stream and consumer group if they do not
// exist yet, as the workers do when they start (bridge doctor checks it).
func (q *Queue) Prepare(ctx context.Context) error { return q.ensureGroup(ctx) }

func (q *Queue) ensureGroup(ctx context.Context) error {
	err := q.RDB.XGroupCreateMkStream(ctx, queueStream, queueGroup, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return err
	}
	return nil
}

// Run reads jobs with workers at once until the queue is closed or ctx
// ends, and claims the jobs of dead consumers. Each job gets retry's tries
// in this process; one that still fails stays unacknowledged, so it is
// delivered again after Visibility (here or elsewhere) until
// MaxDeliveries. It returns 0: what is left stays in Redis.
func (q *Queue) Run(ctx context.Context, workers int, retry bridge.Retry, h bridge.JobHandler, failed func(bridge.Job, error)) int {
	workers = max(workers, 1)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	run := func(msg redis.XMessage) {
		defer func() { <-sem; wg.Done() }()
		// A job that panics (a client's bad answer) stays unacknowledged
		// and is delivered again, as a failed one is.
		if err := safe.Do("lifecycle_job", func() error { q.process(ctx, msg, retry, h, failed); return nil }); err != nil {
			q.Metrics.RecoveredPanic(err)
			q.Log.Error("lifecycle job panicked; it is delivered again", "error", err.Error())
		}
	}
	lastClaim := time.Time{}
	for ctx.Err() == nil && !q.closed.Load() {
		if err := q.ensureGroup(ctx); err != nil {
			q.pause(ctx, err)
			continue
		}
		// Take back the jobs of consumers that died holding them.
		if time.Since(lastClaim) >= q.visibility()/2 {
			lastClaim = time.Now()
			var msgs []redis.XMessage
			err := safe.Do("redis", func() (err error) {
				msgs, _, err = q.RDB.XAutoClaim(ctx, &redis.XAutoClaimArgs{
					Stream: queueStream, Group: queueGroup, Consumer: q.consumer,
					MinIdle: q.visibility(), Start: "0-0", Count: int64(workers),
				}).Result()
				return err
			})
			if err == nil && len(msgs) > 0 {
				q.Log.Info("lifecycle jobs claimed from a consumer that stopped", "jobs", len(msgs))
			}
			for _, m := range msgs {
				sem <- struct{}{}
				wg.Add(1)
				go run(m)
			}
		}
		// Read only as many as there are free workers.
		sem <- struct{}{}
		free := 1
	fill:
		for free < workers {
			select {
			case sem <- struct{}{}:
				free++
			default:
				break fill
			}
		}
		var streams []redis.XStream
		err := safe.Do("redis", func() (err error) {
			streams, err = q.RDB.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: queueGroup, Consumer: q.consumer, Streams: []string{queueStream, ">"},
				Count: int64(free), Block: time.Second,
			}).Result()
			return err
		})
		if err == nil || errors.Is(err, redis.Nil) {
			OutageOf(q.RDB, q.Log, q.Metrics).OK()
		}
		got := 0
		if err == nil {
			for _, s := range streams {
				for _, m := range s.Messages {
					got++
					wg.Add(1)
					go run(m)
				}
			}
		}
		for range free - got {
			<-sem
		}
		if err != nil && !errors.Is(err, redis.Nil) && ctx.Err() == nil {
			q.pause(ctx, err)
		}
	}
	return 0
}

func (q *Queue) visibility() time.Duration {
	if q.Visibility <= 0 {
		return DefaultConfig().VisibilityTimeout
	}
	return q.Visibility
}

// renewWhileRunning resets id's idle time every third of Visibility until
// the returned stop is called.
func (q *Queue) renewWhileRunning(ctx context.Context, id string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(q.visibility() / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = safe.Do("redis", func() error {
					return q.RDB.XClaimJustID(ctx, &redis.XClaimArgs{Stream: queueStream, Group: queueGroup,
						Consumer: q.consumer, MinIdle: 0, Messages: []string{id}}).Err()
				})
			}
		}
	}()
	return func() { cancel(); <-done }
}

// pause waits a moment after Redis failed, logging once per episode.
func (q *Queue) pause(ctx context.Context, err error) {
	// The lifecycle workers wait for Redis.
	OutageOf(q.RDB, q.Log, q.Metrics).Fail("queue", err)
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}

// process runs one delivered job and acknowledges it when it is done.
func (q *Queue) process(ctx context.Context, msg redis.XMessage, retry bridge.Retry, h bridge.JobHandler, failed func(bridge.Job, error)) {
	var j bridge.Job
	raw, _ := msg.Values["j"].(string)
	key, _ := msg.Values["k"].(string)
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		q.deadLetter(ctx, msg, "undecodable job")
		return
	}
	deliveries, err := q.RDB.HIncrBy(ctx, attemptsKey, msg.ID, 1).Result()
	if err == nil && deliveries > q.maxDeliveries() {
		q.deadLetter(ctx, msg, "delivered "+strconv.FormatInt(deliveries-1, 10)+" times")
		return
	}
	// From here on, a new event for the key queues a new job: this run
	// may have read Descope before that event.
	if key != "" {
		q.RDB.Del(ctx, key)
	}
	// While the job runs, its claim is renewed, so a job slower than
	// Visibility (a slow Firebase, a loaded machine) is not claimed and run
	// a second time, at once, by another instance; only a dead consumer's
	// jobs go idle.
	stopRenew := q.renewWhileRunning(ctx, msg.ID)
	err = retry.Do(ctx, func(ctx context.Context) error { return h(ctx, j) })
	stopRenew()
	if err != nil {
		// Left unacknowledged: delivered again after Visibility.
		if failed != nil && ctx.Err() == nil {
			failed(j, err)
		}
		return
	}
	q.ack(ctx, msg.ID)
}

func (q *Queue) maxDeliveries() int64 {
	if q.MaxDeliveries <= 0 {
		return 5
	}
	return q.MaxDeliveries
}

func (q *Queue) ack(ctx context.Context, id string) {
	pipe := q.RDB.TxPipeline()
	pipe.XAck(ctx, queueStream, queueGroup, id)
	pipe.XDel(ctx, queueStream, id)
	pipe.HDel(ctx, attemptsKey, id)
	_, _ = pipe.Exec(context.WithoutCancel(ctx))
}

// deadLetter moves a job that keeps failing out of the way, keeping it for
// an operator, and counts it.
func (q *Queue) deadLetter(ctx context.Context, msg redis.XMessage, why string) {
	ctx = context.WithoutCancel(ctx)
	values := map[string]any{"why": why}
	for k, v := range msg.Values {
		values[k] = v
	}
	if err := q.RDB.XAdd(ctx, &redis.XAddArgs{Stream: deadStream, MaxLen: 10_000, Approx: true, Values: values}).Err(); err != nil {
		return // stays pending; the next claim tries again
	}
	if k, _ := msg.Values["k"].(string); k != "" {
		q.RDB.Del(ctx, k)
	}
	q.ack(ctx, msg.ID)
	q.Metrics.DeadLetter()
	q.Log.Error("lifecycle job dead-lettered", "why", why, "stream", deadStream, "id", msg.ID)
}

// DeadLetters is the number of jobs in the dead-letter stream.
func (q *Queue) DeadLetters(ctx context.Context) (int64, error) {
	return q.RDB.XLen(ctx, deadStream).Result()
}
