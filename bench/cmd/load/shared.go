package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
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
	port, err := freePort()
	if err != nil {
		return err
	}
	rcmd := exec.CommandContext(ctx, "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	stdout, err := rcmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := rcmd.Start(); err != nil {
		return err
	}
	defer func() { _ = rcmd.Process.Kill(); _ = rcmd.Wait() }()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("redis-server not ready")
	}
	redisURL := fmt.Sprintf("REDIS_URL=redis://127.0.0.1:%d/0", port)
	// Limits at a realistic level, far above what one user's pre-minted
	// session is driven at here, so every exchange pays for both checks
	// and none is refused.
	limits := []string{"EXCHANGE_CACHE_SIZE=0", "RATE_LIMIT_USER_PER_MINUTE=6000000", "RATE_LIMIT_USER_BURST=100000"}

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
	alone, withRedis := &result{}, &result{}
	for range o.rounds {
		r, err := drive(ctx, local.url, sessions, conns, slice)
		if err != nil {
			return err
		}
		alone.add(r)
		r, err = drive(ctx, shared.url, sessions, conns, slice)
		if err != nil {
			return err
		}
		withRedis.add(r)
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

	fmt.Fprintf(out, "shared state through Redis (redis-server on loopback), uncached, %d conns\n", conns)
	fmt.Fprintf(out, "%-34s %7s %8s %8s %6s\n", "", "req/s", "p50", "p99", "errors")
	row := func(name string, r *result) {
		fmt.Fprintf(out, "%-34s %7.0f %8s %8s %6d\n", name, r.rate(), ms(r.quantile(0.5)), ms(r.quantile(0.99)), r.errors)
	}
	row("1 instance, limits per instance", alone)
	row("1 instance, limits in Redis", withRedis)
	row("3 instances, one Redis, round robin", cluster)
	added := withRedis.quantile(0.5) - alone.quantile(0.5)
	fmt.Fprintf(out, "  limit checks in Redis add %s to p50 (target: at most 1ms), %.0f%% of the per-instance rate;\n",
		ms(added), 100*withRedis.rate()/alone.rate())
	fmt.Fprintf(out, "  the two were measured in %d alternating slices each; the 3 instances share these %d cores with Redis and the client\n\n",
		o.rounds, numCPU())
	return nil
}
