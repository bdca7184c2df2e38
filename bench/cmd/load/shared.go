package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/dfbridge/dfbridge/emulator/redisserver"
)

// runShared measures what Redis adds: one bridge without and with
// REDIS_URL, alternating, at 16 connections (the added p50 is the cost of
// the two limit checks, one pipelined round trip); then three bridges
// sharing one Redis behind a round-robin client.
func runShared(ctx context.Context, o options, out io.Writer, bin, dir string, env func(...string) []string, sessions []string) error {
	if _, err := exec.LookPath("redis-server"); err != nil {
		fmt.Fprintf(out, "shared state: skipped (redis-server not installed; apt-get install redis-server)\n\n")
		return nil
	}
	rs, err := redisserver.Run(dir)
	if err != nil {
		return err
	}
	defer rs.Stop()
	redisURL := "REDIS_URL=" + rs.URL()
	// Limits at a realistic level, far above what one user's pre-minted
	// session is driven at here, so every exchange pays for both checks
	// and none is refused.
	limits := []string{"EXCHANGE_CACHE_SIZE=0", "RATE_LIMIT_USER_PER_MINUTE=6000000", "RATE_LIMIT_USER_BURST=100000",
		"METRICS_ON_MAIN_PORT=true"}

	const conns = 16
	local, err := startBridge(ctx, bin, dir, "local", env(limits...))
	if err != nil {
		return err
	}
	defer local.stop()
	shared, err := startBridge(ctx, bin, dir, "redis", env(append(limits, redisURL)...))
	if err != nil {
		return err
	}
	defer shared.stop()
	for _, b := range []*bridge{local, shared} {
		if _, err := drive(ctx, b.url, sessions, conns, time.Second); err != nil { // warm-up
			return err
		}
	}
	slice := o.duration / time.Duration(2*o.rounds)
	slice = max(slice, 500*time.Millisecond)
	// At 1 connection the bridge is idle between requests, so the added
	// p50 is the checks' own cost; at 16 it is CPU-bound, and the added
	// p50 also holds the queueing behind the CPU Redis takes.
	type pair struct {
		conns            int
		alone, withRedis *result
	}
	var pairs []pair
	for _, c := range []int{1, conns} {
		p := pair{conns: c, alone: &result{}, withRedis: &result{}}
		for range o.rounds {
			r, err := drive(ctx, local.url, sessions, c, slice)
			if err != nil {
				return err
			}
			p.alone.add(r)
			r, err = drive(ctx, shared.url, sessions, c, slice)
			if err != nil {
				return err
			}
			p.withRedis.add(r)
		}
		pairs = append(pairs, p)
	}
	check, err := histogramQuantiles(shared.url, `dfbridge_redis_call_duration_seconds_bucket{op="limits",le="`)
	if err != nil {
		return err
	}
	local.stop()
	shared.stop()

	var addrs []string
	for i := range 3 {
		b, err := startBridge(ctx, bin, dir, fmt.Sprintf("redis-%d", i), env(append(limits, redisURL)...))
		if err != nil {
			return err
		}
		defer b.stop()
		addrs = append(addrs, b.url)
	}
	if _, err := driveAll(ctx, addrs, sessions, conns, time.Second); err != nil {
		return err
	}
	cluster, err := driveAll(ctx, addrs, sessions, conns, o.duration)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "shared state through Redis (redis-server on loopback), uncached\n")
	fmt.Fprintf(out, "%5s %-36s %7s %8s %8s %6s\n", "conns", "", "req/s", "p50", "p99", "errors")
	row := func(c int, name string, r *result) {
		fmt.Fprintf(out, "%5d %-36s %7.0f %8s %8s %6d\n", c, name, r.rate(), ms(r.quantile(0.5)), ms(r.quantile(0.99)), r.errors)
	}
	for _, p := range pairs {
		row(p.conns, "1 instance, limits per instance", p.alone)
		row(p.conns, "1 instance, limits in Redis", p.withRedis)
	}
	row(conns, "3 instances, one Redis, round robin", cluster)
	for _, p := range pairs {
		fmt.Fprintf(out, "  at %2d conns the limit checks in Redis add %s to p50 (target at 16: at most 1ms), %.0f%% of the per-instance rate\n",
			p.conns, ms(p.withRedis.quantile(0.5)-p.alone.quantile(0.5)), 100*p.withRedis.rate()/p.alone.rate())
	}
	fmt.Fprintf(out, "  the checks' own round trip, from the bridge's dfbridge_redis_call_duration_seconds{op=\"limits\"}: %s\n", check)
	fmt.Fprintf(out, "  the two were measured in %d alternating slices each; at 16 conns the bridge is CPU-bound, so p50 includes\n", o.rounds)
	fmt.Fprintf(out, "  queueing behind the CPU redis-server and the client take from the same %d cores; the 3 instances share them too\n\n", numCPU())
	return nil
}

// histogramQuantiles reads one of the bridge's histograms (prefix: the
// bucket series up to `le="`) and says in which bucket its p50 and p99 fall.
func histogramQuantiles(addr, prefix string) (string, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	type bucket struct {
		le    float64
		count float64
	}
	var buckets []bucket
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		rest := strings.TrimPrefix(line, prefix)
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		l, err1 := strconv.ParseFloat(le, 64)
		c, err2 := strconv.ParseFloat(strings.TrimSpace(count), 64)
		if err1 == nil && err2 == nil {
			buckets = append(buckets, bucket{l, c})
		}
	}
	if len(buckets) == 0 || buckets[len(buckets)-1].count == 0 {
		return "none recorded", nil
	}
	total := buckets[len(buckets)-1].count
	at := func(q float64) string {
		for _, b := range buckets {
			if b.count >= q*total {
				if math.IsInf(b.le, 1) {
					return "over 100ms"
				}
				return fmt.Sprintf("at most %.2fms", b.le*1000)
			}
		}
		return "?"
	}
	return fmt.Sprintf("p50 %s, p99 %s (%.0f observed)", at(0.5), at(0.99), total), nil
}
