package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dfbridge/dfbridge/metrics"
	"github.com/dfbridge/dfbridge/webhook"
)

// Marks remembers accepted audit events in Redis, shared by every instance:
// a key per event hash, set with SET NX EX, so a replay that reaches any
// instance is recognised.
type Marks struct {
	RDB     *redis.Client
	TTL     time.Duration
	Metrics *metrics.Metrics
}

var _ webhook.EventMarks = (*Marks)(nil)

// Claim implements webhook.EventMarks.
func (m *Marks) Claim(ctx context.Context, key string) (bool, error) {
	start := time.Now()
	ok, err := m.RDB.SetNX(ctx, "dfb:e:"+key, 1, m.TTL).Result()
	m.Metrics.RedisCall("marks", time.Since(start))
	return ok, err
}

// Release implements webhook.EventMarks.
func (m *Marks) Release(ctx context.Context, key string) error {
	return m.RDB.Del(ctx, "dfb:e:"+key).Err()
}
