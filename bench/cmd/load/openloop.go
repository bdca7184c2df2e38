package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// driveOpen offers rate exchanges per second for d, whatever the answers'
// pace (open loop): request i is due at start + i/rate, and its latency is
// measured from that intended send time, so a request that waits for a
// free connection or a late generator counts its wait (no coordinated
// omission). conns connections carry the requests; a request due while
// all are busy waits for the first free one, and that wait is part of its
// latency.
func driveOpen(ctx context.Context, addr string, sessions []string, rate, conns int, d time.Duration) (*result, error) {
	reqs := exchangeRequests(sessions)
	total := int(d.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	due := make(chan int, total)
	workers := make([]worker, conns)
	start := time.Now().Add(10 * time.Millisecond)
	var wg sync.WaitGroup
	for w := range workers {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", addr, err)
		}
		wg.Add(1)
		go func(w *worker, conn net.Conn) {
			defer wg.Done()
			defer func() { conn.Close() }()
			br := bufio.NewReaderSize(conn, 8<<10)
			w.lat = make([]time.Duration, 0, total/conns+16)
			for i := range due {
				intended := start.Add(time.Duration(i) * interval)
				if wait := time.Until(intended); wait > 0 {
					time.Sleep(wait)
				}
				status, err := roundTrip(conn, br, reqs[i%len(reqs)])
				lat := time.Since(intended)
				if err != nil {
					w.errs++
					conn.Close()
					if conn, err = net.Dial("tcp", addr); err != nil {
						w.err = err
						return
					}
					br.Reset(conn)
					continue
				}
				if status != http.StatusOK {
					w.errs++
					continue
				}
				w.ok++
				w.lat = append(w.lat, lat)
			}
		}(&workers[w], c)
	}
	// The pacer hands out each request at its due time; an idle
	// connection picks it up at once, or the first to come free later.
	for i := 0; i < total && ctx.Err() == nil; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		due <- i
	}
	close(due)
	wg.Wait()
	return merge(workers, start)
}
