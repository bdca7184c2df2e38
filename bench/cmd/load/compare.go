package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"time"

	"github.com/dfbridge/dfbridge/emulator/redisserver"
)

// runCompare measures this build against another (-compare OLD): both run
// side by side with the same settings, and in each round each is driven
// for a slice at each connection count, alternating, so both see the same
// background. Without Redis, then with every instance's shared state in a
// real redis-server. It prints each build's p50, p99 and exchanges/s, and
// this build's over the other's: the ratios a change is judged by.
func runCompare(ctx context.Context, o options, out io.Writer, bin, dir string, env func(...string) []string, sessions []string) error {
	modes := []struct {
		name  string
		extra []string
	}{{"no redis", nil}}
	if _, err := exec.LookPath("redis-server"); err == nil {
		rs, err := redisserver.Run(dir)
		if err != nil {
			return err
		}
		defer rs.Stop()
		modes = append(modes, struct {
			name  string
			extra []string
		}{"redis", []string{"REDIS_URL=" + rs.URL()}})
	}
	fmt.Fprintf(out, "this build against %s, uncached, alternating slices of %s, %d rounds\n", o.compare,
		compareSlice(o), o.rounds)
	fmt.Fprintf(out, "%-9s %5s | %8s %8s %7s | %8s %8s %7s | %6s %6s %6s\n", "state", "conns",
		"p50", "p99", "req/s", "p50", "p99", "req/s", "p50 ×", "p99 ×", "req/s ×")
	fmt.Fprintf(out, "%-9s %5s | %-26s | %-26s |\n", "", "", "before (-compare)", "after (this build)")
	for _, m := range modes {
		settings := append([]string{"EXCHANGE_CACHE_SIZE=0"}, m.extra...)
		before, err := startBridge(ctx, o.compare, dir, "before-"+m.name, env(settings...))
		if err != nil {
			return err
		}
		after, err := startBridge(ctx, bin, dir, "after-"+m.name, env(settings...))
		if err != nil {
			before.stop()
			return err
		}
		err = compareMode(ctx, o, out, m.name, before, after, sessions)
		before.stop()
		after.stop()
		if err != nil {
			return err
		}
	}
	fmt.Fprintln(out)
	return nil
}

func compareSlice(o options) time.Duration {
	return max(o.duration/time.Duration(2*o.rounds), 500*time.Millisecond)
}

func compareMode(ctx context.Context, o options, out io.Writer, name string, before, after *bridge, sessions []string) error {
	for _, b := range []*bridge{before, after} {
		if _, err := drive(ctx, b.url, sessions, 16, time.Second); err != nil { // warm-up
			return err
		}
	}
	for _, c := range o.conns {
		var rb, ra result
		for range o.rounds {
			for _, side := range []struct {
				b   *bridge
				acc *result
			}{{before, &rb}, {after, &ra}} {
				r, err := drive(ctx, side.b.url, sessions, c, compareSlice(o))
				if err != nil {
					return err
				}
				side.acc.add(r)
			}
		}
		fmt.Fprintf(out, "%-9s %5d | %8s %8s %7.0f | %8s %8s %7.0f | %6.2f %6.2f %6.2f\n", name, c,
			ms(rb.quantile(0.5)), ms(rb.quantile(0.99)), rb.rate(), ms(ra.quantile(0.5)), ms(ra.quantile(0.99)), ra.rate(),
			ratio(ra.quantile(0.5), rb.quantile(0.5)), ratio(ra.quantile(0.99), rb.quantile(0.99)), ra.rate()/rb.rate())
	}
	return nil
}
