package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/emulator/redisserver"
	"github.com/dfbridge/dfbridge/metrics"
	"github.com/dfbridge/dfbridge/ratelimit"
	"github.com/dfbridge/dfbridge/redisstore"
)

func open(t *testing.T, srv *redisserver.Server) *redis.Client {
	t.Helper()
	rdb, err := redisstore.Open(srv.URL(), "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestOpenRefusesWhatIsNotARedisURL(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:6379", "127.0.0.1:6379", "redis://[::1"} {
		_, err := redisstore.Open(u, "")
		assert.Error(t, err, u)
	}
	rdb, err := redisstore.Open("rediss://user:pw@10.0.0.3:6378/2", "")
	require.NoError(t, err)
	assert.NotNil(t, rdb.Options().TLSConfig, "rediss:// is TLS")
	assert.Equal(t, 2, rdb.Options().DB)
	assert.Positive(t, rdb.Options().PoolSize)
}

// Memorystore's in-transit encryption uses a CA of its own, which no
// system trust store holds: REDIS_CA_FILE trusts it for the Redis
// connection, against a real redis-server speaking only TLS with a
// certificate from a private CA.
func TestRedisCAFileTrustsAPrivateCA(t *testing.T) {
	srv := redisserver.StartTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	rdb, err := redisstore.Open(srv.URL(), srv.CAFile)
	require.NoError(t, err)
	defer rdb.Close()
	require.NoError(t, rdb.Ping(ctx).Err(), "with the CA, TLS and AUTH succeed")

	untrusted, err := redisstore.Open(srv.URL(), "")
	require.NoError(t, err)
	defer untrusted.Close()
	err = untrusted.Ping(ctx).Err()
	require.Error(t, err, "without it, the server's certificate is not trusted")
	assert.Contains(t, err.Error(), "certificate")

	_, err = redisstore.Open(strings.Replace(srv.URL(), "rediss://", "redis://", 1), srv.CAFile)
	assert.ErrorContains(t, err, "REDIS_CA_FILE is set but REDIS_URL is not rediss://")
	_, err = redisstore.Open(srv.URL(), filepath.Join(t.TempDir(), "missing.pem"))
	assert.ErrorContains(t, err, "REDIS_CA_FILE")
}

// Three instances sharing one Redis admit one user's burst once, not three
// times: 30/min with a burst of 10, hit through each in turn.
func TestLimitsAreSharedByEveryInstance(t *testing.T) {
	srv := redisserver.Start(t)
	var instances []*redisstore.Limits
	for range 3 {
		l := redisstore.NewLimits(open(t, srv), 0, 0, 30, 10)
		l.Log = quiet()
		instances = append(instances, l)
	}
	admitted := 0
	for i := range 30 {
		if ok, _, _ := instances[i%3].AllowExchange(t.Context(), "192.0.2.1", "U1"); ok {
			admitted++
		}
	}
	t.Logf("30 exchanges through 3 instances in turn: %d admitted", admitted)
	assert.InDelta(t, 10, admitted, 1, "about the burst, not three bursts")

	ok, wait, scope := instances[0].AllowExchange(t.Context(), "192.0.2.1", "U1")
	assert.False(t, ok)
	assert.Equal(t, "user", scope)
	assert.Positive(t, wait)
	ok, _, _ = instances[1].AllowExchange(t.Context(), "192.0.2.1", "U2")
	assert.True(t, ok, "another user has a burst of their own")
}

func TestLimitsCheckTheClientAddressToo(t *testing.T) {
	srv := redisserver.Start(t)
	l := redisstore.NewLimits(open(t, srv), 60, 2, 600, 100)
	l.Log = quiet()
	for i := range 2 {
		ok, _, _ := l.AllowExchange(t.Context(), "198.51.100.7", "U"+string(rune('a'+i)))
		require.True(t, ok)
	}
	ok, _, scope := l.AllowExchange(t.Context(), "198.51.100.7", "Uz")
	assert.False(t, ok)
	assert.Equal(t, "client", scope)
}

// With Redis gone, exchanges are judged by this instance's limiter: they
// keep working, the episode is logged once and counted once.
func TestLimitsFallBackToTheInstanceWhenRedisIsDown(t *testing.T) {
	srv := redisserver.Start(t)
	m := metrics.New()
	l := redisstore.NewLimits(open(t, srv), 0, 0, 60, 3)
	l.Log, l.Metrics, l.Fallback = quiet(), m, ratelimit.New(60, 3)
	srv.Stop()
	admitted := 0
	for range 5 {
		if ok, _, _ := l.AllowExchange(t.Context(), "", "U1"); ok {
			admitted++
		}
	}
	assert.Equal(t, 3, admitted, "the local burst")
	assert.Equal(t, float64(1), testutil.ToFloat64(m.RedisFallbacks.WithLabelValues("limits")), "one episode")
}

func TestMarksRecogniseAReplayOnAnyInstance(t *testing.T) {
	srv := redisserver.Start(t)
	a := &redisstore.Marks{RDB: open(t, srv), TTL: time.Minute}
	b := &redisstore.Marks{RDB: open(t, srv), TTL: time.Minute}
	fresh, err := a.Claim(t.Context(), "e1")
	require.NoError(t, err)
	assert.True(t, fresh)
	fresh, err = b.Claim(t.Context(), "e1")
	require.NoError(t, err)
	assert.False(t, fresh, "the other instance sees the replay")
	require.NoError(t, a.Release(t.Context(), "e1"))
	fresh, err = b.Claim(t.Context(), "e1")
	require.NoError(t, err)
	assert.True(t, fresh, "a released event is new again")
}

func newQueue(_ *testing.T, rdb *redis.Client) *redisstore.Queue {
	q := redisstore.NewQueue(rdb, 100_000, 3)
	q.Visibility, q.Log = time.Second, quiet()
	return q
}

func job(id string) bridge.Job { return bridge.Job{Kind: bridge.JobUser, UserID: id} }

func TestQueue(t *testing.T) {
	fast := bridge.Retry{Attempts: 1}

	t.Run("jobs for one waiting user coalesce, across instances", func(t *testing.T) {
		srv := redisserver.Start(t)
		a, b := newQueue(t, open(t, srv)), newQueue(t, open(t, srv))
		require.NoError(t, a.Enqueue(t.Context(), []bridge.Job{job("U1"), job("U1"), job("U2")}))
		require.NoError(t, b.Enqueue(t.Context(), []bridge.Job{job("U1")}))
		assert.Equal(t, 2, a.Depth())
	})

	t.Run("every job runs once and is acknowledged", func(t *testing.T) {
		srv := redisserver.Start(t)
		q := newQueue(t, open(t, srv))
		var ids []bridge.Job
		for i := range 50 {
			ids = append(ids, job("U"+strings.Repeat("x", i)))
		}
		require.NoError(t, q.Enqueue(t.Context(), ids))
		var mu sync.Mutex
		ran := map[string]int{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			q.Run(ctx, 4, fast, func(_ context.Context, j bridge.Job) error {
				mu.Lock()
				ran[j.UserID]++
				mu.Unlock()
				return nil
			}, nil)
		}()
		require.Eventually(t, func() bool { return q.Depth() == 0 }, 10*time.Second, 10*time.Millisecond)
		cancel()
		<-done
		assert.Len(t, ran, 50)
		for id, n := range ran {
			assert.Equal(t, 1, n, id)
		}
	})

	t.Run("a job slower than the visibility timeout is not run again by another instance while it runs", func(t *testing.T) {
		srv := redisserver.Start(t)
		slow, other := newQueue(t, open(t, srv)), newQueue(t, open(t, srv)) // Visibility 1 s
		require.NoError(t, slow.Enqueue(t.Context(), []bridge.Job{job("Uslow")}))
		var runs atomic.Int32
		started := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			slow.Run(ctx, 1, fast, func(context.Context, bridge.Job) error {
				runs.Add(1)
				close(started)
				time.Sleep(3500 * time.Millisecond) // three and a half visibility timeouts
				return nil
			}, nil)
		}()
		<-started
		go func() {
			defer wg.Done()
			other.Run(ctx, 1, fast, func(context.Context, bridge.Job) error { runs.Add(1); return nil }, nil)
		}()
		require.Eventually(t, func() bool { return slow.Depth() == 0 }, 15*time.Second, 20*time.Millisecond)
		cancel()
		wg.Wait()
		assert.Equal(t, int32(1), runs.Load(), "the running job's claim was renewed, so nobody took it over")
	})

	t.Run("a job whose consumer died is taken over after the visibility timeout", func(t *testing.T) {
		srv := redisserver.Start(t)
		dead, alive := newQueue(t, open(t, srv)), newQueue(t, open(t, srv))
		require.NoError(t, dead.Enqueue(t.Context(), []bridge.Job{job("U1")}))
		// The first consumer reads the job and dies holding it.
		got := make(chan struct{})
		ctx, kill := context.WithCancel(context.Background())
		go dead.Run(ctx, 1, fast, func(ctx context.Context, _ bridge.Job) error {
			close(got)
			<-ctx.Done()
			return ctx.Err()
		}, nil)
		<-got
		kill()
		var took atomic.Int32
		ctx2, stop := context.WithCancel(context.Background())
		defer stop()
		go alive.Run(ctx2, 1, fast, func(context.Context, bridge.Job) error { took.Add(1); return nil }, nil)
		require.Eventually(t, func() bool { return took.Load() == 1 && alive.Depth() == 0 }, 15*time.Second, 20*time.Millisecond)
	})

	t.Run("a job that keeps failing goes to the dead-letter stream after its deliveries", func(t *testing.T) {
		srv := redisserver.Start(t)
		m := metrics.New()
		q := newQueue(t, open(t, srv))
		q.Metrics = m
		require.NoError(t, q.Enqueue(t.Context(), []bridge.Job{job("Upoison")}))
		var tries atomic.Int32
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		go q.Run(ctx, 1, fast, func(context.Context, bridge.Job) error {
			tries.Add(1)
			return bridge.Wrap(bridge.CodeUpstream, errors.New("503"), "firebase")
		}, nil)
		require.Eventually(t, func() bool {
			n, _ := q.DeadLetters(context.Background())
			return n == 1
		}, 20*time.Second, 50*time.Millisecond)
		assert.Equal(t, int32(3), tries.Load(), "three deliveries, then dead-lettered")
		assert.Equal(t, 0, q.Depth())
		assert.Equal(t, float64(1), testutil.ToFloat64(m.DeadLetters))
	})

	t.Run("with Redis unreachable a delivery is refused, not taken into memory", func(t *testing.T) {
		srv := redisserver.Start(t)
		q := newQueue(t, open(t, srv))
		srv.Stop()
		err := q.Enqueue(t.Context(), []bridge.Job{job("U1")})
		assert.ErrorIs(t, err, bridge.ErrQueueUnavailable)
	})

	t.Run("a full stream refuses with ErrQueueFull", func(t *testing.T) {
		srv := redisserver.Start(t)
		q := redisstore.NewQueue(open(t, srv), 2, 3)
		q.Log = quiet()
		require.NoError(t, q.Enqueue(t.Context(), []bridge.Job{job("U1"), job("U2")}))
		assert.ErrorIs(t, q.Enqueue(t.Context(), []bridge.Job{job("U3")}), bridge.ErrQueueFull)
	})
}
