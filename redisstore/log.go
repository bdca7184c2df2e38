package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RouteLogs sends go-redis's own messages (a failed dial, a pool error) to
// log at Warn, as JSON like every other line, instead of the plain text it
// writes to stderr by default, which Cloud Logging cannot parse. go-redis
// has one logger per process: the first call sets it, later ones (a second
// service in one test process) change nothing. Call it before Open.
func RouteLogs(log *slog.Logger) {
	routeOnce.Do(func() { redis.SetLogger(slogLogger{log}) })
}

var routeOnce sync.Once

type slogLogger struct{ log *slog.Logger }

// Printf logs the first message after a quiet spell and counts the rest
// into the next "redis answers again" line (Outage).
func (l slogLogger) Printf(ctx context.Context, format string, v ...any) {
	if !clientArmed.CompareAndSwap(true, false) {
		clientMessages.Add(1)
		return
	}
	l.log.LogAttrs(ctx, slog.LevelWarn, "redis client", slog.String("detail", fmt.Sprintf(format, v...)),
		slog.String("note", "further go-redis messages are counted until Redis answers"))
}
