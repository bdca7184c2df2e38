package redisstore_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/metrics"
	"github.com/dfbridge/dfbridge/ratelimit"
	"github.com/dfbridge/dfbridge/redisstore"
)

// faultyRedis speaks the Redis protocol badly on purpose: it answers the
// connection's hand-shake (HELLO refused, so RESP2; CLIENT and PING fine)
// and every other command with reply. No real Redis can be made to send
// these answers; they stand for a broken proxy, a protocol bug or a
// hostile server.
type faultyRedis struct {
	ln    net.Listener
	reply func(w io.Writer) (closeAfter bool)
	mu    sync.Mutex
	conns []net.Conn
}

func startFaulty(t *testing.T, reply func(w io.Writer) bool) *faultyRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &faultyRedis{ln: ln, reply: reply}
	go f.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.conns {
			_ = c.Close()
		}
	})
	return f
}

func (f *faultyRedis) url() string { return "redis://" + f.ln.Addr().String() }

func (f *faultyRedis) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		go f.serve(c)
	}
}

func (f *faultyRedis) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		cmd, err := readCommand(br)
		if err != nil {
			return
		}
		switch strings.ToUpper(cmd) {
		case "HELLO":
			_, _ = io.WriteString(c, "-ERR unknown command 'HELLO'\r\n")
		case "CLIENT", "SELECT", "AUTH":
			_, _ = io.WriteString(c, "+OK\r\n")
		case "PING":
			_, _ = io.WriteString(c, "+PONG\r\n")
		default:
			if f.reply(c) {
				return
			}
		}
	}
}

// readCommand reads one RESP array of bulk strings and returns its first.
func readCommand(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil {
		return "", err
	}
	var first string
	for i := range n {
		hdr, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(hdr, "$")))
		if err != nil {
			return "", err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		if i == 0 {
			first = string(buf[:size])
		}
	}
	return first, nil
}

// A Redis that answers wrong types, truncated replies, huge bulks or
// nothing at all never takes the process down: each store's call returns
// an error (or, for the exchange limits, falls back to this instance's),
// within its timeouts. The wrong-type case is the one that crashed the
// process in redis_rate before (a bulk string where it asserts an array).
func TestABrokenRedisNeverCrashesTheProcess(t *testing.T) {
	faults := []struct {
		name  string
		reply func(w io.Writer) bool
	}{
		{"a bulk string where an array is expected", func(w io.Writer) bool {
			_, _ = io.WriteString(w, "$3\r\nabc\r\n")
			return false
		}},
		{"an integer where anything else is expected", func(w io.Writer) bool {
			_, _ = io.WriteString(w, ":7\r\n")
			return false
		}},
		{"an array of the wrong element types", func(w io.Writer) bool {
			_, _ = io.WriteString(w, "*4\r\n$1\r\nx\r\n*0\r\n+y\r\n$-1\r\n")
			return false
		}},
		{"a truncated reply, then a closed connection", func(w io.Writer) bool {
			_, _ = io.WriteString(w, "*4\r\n:1\r\n$10\r\nab")
			return true
		}},
		{"a huge bulk that never arrives", func(w io.Writer) bool {
			_, _ = io.WriteString(w, "$1000000000\r\n"+strings.Repeat("a", 4096))
			return false
		}},
		{"no answer at all", func(io.Writer) bool {
			time.Sleep(3 * time.Second)
			return true
		}},
	}
	for _, fc := range faults {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			srv := startFaulty(t, fc.reply)
			rdb, err := redisstore.Open(srv.url(), "")
			require.NoError(t, err)
			t.Cleanup(func() { _ = rdb.Close() })
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			m := metrics.New()

			l := redisstore.NewLimits(rdb, 60, 10, 60, 3)
			l.Log, l.Metrics, l.Fallback = quiet(), m, ratelimit.New(60, 3)
			var wg sync.WaitGroup
			for range 8 { // both checks of each run on their own goroutines
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, _, _ := l.AllowExchange(ctx, "192.0.2.1", "U1")
					_ = ok
				}()
			}
			wg.Wait()
			ok, _, _ := l.AllowExchange(ctx, "192.0.2.1", "U2")
			assert.True(t, ok, "the exchange is judged by the fallback")
			assert.Equal(t, float64(1), testutil.ToFloat64(m.RedisFallbacks.WithLabelValues("limits")), "one fallback episode")

			marks := &redisstore.Marks{RDB: rdb, TTL: time.Minute}
			_, _ = marks.Claim(ctx, "e1")

			removed := redisstore.NewRemoved(rdb, quiet(), m)
			_ = removed.MarkRemoved(ctx, "U1", time.Minute)
			_, _ = removed.Removed(ctx, "U1")

			q := newQueue(t, rdb)
			q.Metrics = m
			_ = q.Enqueue(ctx, []bridge.Job{job("U1")})
			runCtx, stop := context.WithTimeout(ctx, 1500*time.Millisecond)
			defer stop()
			q.Run(runCtx, 2, bridge.Retry{Attempts: 1}, func(context.Context, bridge.Job) error { return nil }, nil)
			require.NoError(t, ctx.Err(), "every call ended within its timeouts")
			if strings.HasPrefix(fc.name, "a bulk string") {
				assert.Positive(t, testutil.ToFloat64(m.Panics.WithLabelValues("redis_rate")),
					"redis_rate's panic was recovered and counted")
			}
		})
	}
}
