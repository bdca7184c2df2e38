package redisstore

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/flow"
	"github.com/dfbridge/dfbridge/metrics"
)

// Removed is bridge.RemovedUsers in Redis, shared by every instance and
// kept across restarts: a key per removed Descope user (a hash of the ID),
// expiring with its mark. Every mark is also kept in Local,
// which answers while Redis fails or is slower than Timeout, so exchanges
// keep working and this instance still refuses what it learnt itself;
// Firebase backs the rest (the removed user's account is disabled, or a
// disabled placeholder). The episode is logged once and counted.
type Removed struct {
	RDB     *redis.Client
	Local   *flow.MemoryRemoved
	Timeout time.Duration
	Log     *slog.Logger
	Metrics *metrics.Metrics
}

var _ bridge.RemovedUsers = (*Removed)(nil)

// NewRemoved returns the shared set with a local copy of this instance's
// marks and a 50 ms round-trip bound.
func NewRemoved(rdb *redis.Client, log *slog.Logger, m *metrics.Metrics) *Removed {
	return &Removed{RDB: rdb, Local: flow.NewMemoryRemoved(1_000_000), Timeout: 50 * time.Millisecond, Log: log, Metrics: m}
}

// removedKey holds a hash of the user ID, as every key of the shared state
// does (hashKey), so no key names anyone. The lifecycle queue's streams are
// the exception in their values: a job must say whom to re-read, so the
// job stream holds user IDs and login IDs until the job is acknowledged,
// and the dead-letter stream keeps them (see Queue).
func removedKey(userID string) string { return "dfb:r:" + hashKey(userID) }

// MarkRemoved implements bridge.RemovedUsers. A mark must reach Redis to
// hold on every instance, so a Redis failure is returned (the job retries).
func (r *Removed) MarkRemoved(ctx context.Context, userID string, ttl time.Duration) error {
	_ = r.Local.MarkRemoved(ctx, userID, ttl)
	return r.RDB.Set(ctx, removedKey(userID), 1, ttl).Err()
}

// Restore implements bridge.RemovedUsers.
func (r *Removed) Restore(ctx context.Context, userID string) error {
	_ = r.Local.Restore(ctx, userID)
	return r.RDB.Del(ctx, removedKey(userID)).Err()
}

// Removed implements bridge.RemovedUsers.
func (r *Removed) Removed(ctx context.Context, userID string) (bool, error) {
	if local, _ := r.Local.Removed(ctx, userID); local {
		return true, nil
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	n, err := r.RDB.Exists(cctx, removedKey(userID)).Result()
	r.Metrics.RedisCall("removed", time.Since(start))
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		// Checked against this instance's marks until Redis answers.
		OutageOf(r.RDB, r.Log, r.Metrics).Fail("removed", err)
		return false, nil
	}
	OutageOf(r.RDB, r.Log, r.Metrics).OK()
	return n > 0, nil
}
