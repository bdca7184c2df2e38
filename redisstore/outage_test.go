package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/redisserver"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/metrics"
	"github.com/dfbridge/dfbridge/ratelimit"
	"github.com/dfbridge/dfbridge/redisstore"
)

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// A Redis outage under traffic is logged once when it starts and once when
// it ends, with the count of calls that fell back, whichever stores meet it
// and however many calls they make; go-redis's own dial messages are folded
// into the end line. DFBRIDGE_OUTAGE=10s lengthens the outage (default 2s).
func TestARedisOutageIsLoggedOncePerEpisode(t *testing.T) {
	outage := 2 * time.Second
	if d, err := time.ParseDuration(os.Getenv("DFBRIDGE_OUTAGE")); err == nil {
		outage = d
	}
	srv := redisserver.Start(t)
	sink := &lockedBuffer{}
	log := httpapi.NewLogger(sink, 0)
	redisstore.RouteLogs(log)
	rdb, err := redisstore.Open(srv.URL(), "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	m := metrics.New()
	limits := redisstore.NewLimits(rdb, 6000, 100, 6000, 100)
	limits.Log, limits.Metrics, limits.Fallback = log, m, ratelimit.New(6000, 100)
	removed := redisstore.NewRemoved(rdb, log, m)

	ctx, cancel := context.WithCancel(t.Context())
	var calls atomic.Int64
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				limits.AllowExchange(ctx, "192.0.2.1", "U1")
				_, _ = removed.Removed(ctx, "U"+string(rune('a'+i)))
				calls.Add(2)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	srv.Stop()
	time.Sleep(outage)
	require.NoError(t, srv.Restart(t.Context()))
	require.Eventually(t, func() bool { return !redisstore.OutageOf(rdb, log, m).Down() }, 20*time.Second, 10*time.Millisecond,
		"the episode ends once Redis answers")
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()

	var started, ended, client []map[string]any
	for _, l := range sink.lines() {
		switch msg, _ := l["message"].(string); {
		case strings.HasPrefix(msg, "redis unreachable"):
			started = append(started, l)
		case strings.HasPrefix(msg, "redis answers again"):
			ended = append(ended, l)
		case msg == "redis client":
			client = append(client, l)
		}
	}
	for _, l := range append(append(started, client...), ended...) {
		b, _ := json.Marshal(l)
		t.Logf("%s", b)
	}
	t.Logf("%d calls in all", calls.Load())
	require.Len(t, started, 1, "one line when it starts")
	require.Len(t, ended, 1, "one line when it ends")
	assert.LessOrEqual(t, len(client), 1, "go-redis's own messages folded in")
	assert.Positive(t, ended[0]["calls_fell_back"], "the end line counts what fell back")
	assert.Contains(t, ended[0], "fell_back_limits")
	assert.Contains(t, ended[0], "fell_back_removed")
	assert.GreaterOrEqual(t, ended[0]["after_ms"], float64(outage.Milliseconds())*0.8)
}

// A caller that went away (its context cancelled) is not a Redis failure:
// no episode is logged or counted for it.
func TestACancelledCallerIsNotAnOutage(t *testing.T) {
	srv := redisserver.Start(t)
	sink := &lockedBuffer{}
	log := httpapi.NewLogger(sink, 0)
	rdb, err := redisstore.Open(srv.URL(), "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	m := metrics.New()
	limits := redisstore.NewLimits(rdb, 60, 10, 60, 10)
	limits.Log, limits.Metrics, limits.Fallback = log, m, ratelimit.New(60, 10)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	limits.AllowExchange(ctx, "192.0.2.1", "U1")
	assert.False(t, redisstore.OutageOf(rdb, log, m).Down())
	assert.NotContains(t, sink.b.String(), "redis unreachable")
}
