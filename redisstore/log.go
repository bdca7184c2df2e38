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

func (l slogLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.LogAttrs(ctx, slog.LevelWarn, "redis client", slog.String("detail", fmt.Sprintf(format, v...)))
}
