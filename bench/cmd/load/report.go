package main

import (
	"fmt"
	"runtime"
	"time"
)

// reportUncached prints the closed-loop phases beside the signing ceiling.
func (l *loadRun) reportUncached(u *uncachedResults) {
	out := l.out
	fmt.Fprintf(out, "uncached exchanges (EXCHANGE_CACHE_SIZE=0: verify + map + sign on every request)\n")
	fmt.Fprintf(out, "%5s %7s %8s %8s %8s %6s %8s %6s %12s %10s %6s %10s %9s\n",
		"conns", "req/s", "p50", "p99", "max", "errors", "sign/s", "ratio", "bridge CPU", "sign CPU", "share", "load CPU", "peak RSS")
	for _, p := range u.phases {
		bridgeCPU, signCPU := perReq(p.cpu, p.res.ok), float64(p.ceiling.cpuPerSign().Microseconds())
		fmt.Fprintf(out, "%5d %7.0f %8s %8s %8s %6d %8.0f %5.0f%% %9.0fµs/r %8.0fµs %5.0f%% %7.0fµs/r %6.1f MB\n",
			p.conns, p.res.rate(), ms(p.res.quantile(0.50)), ms(p.res.quantile(0.99)), ms(p.res.quantile(1)),
			p.res.errors, p.ceiling.perSecond(), 100*p.res.rate()/p.ceiling.perSecond(),
			bridgeCPU, signCPU, 100*signCPU/bridgeCPU, perReq(p.selfCPU, p.res.ok), float64(p.hwm)/1024)
	}
	fmt.Fprintf(out, "  sign/s:     RSA-2048 signatures per second on all %d cores (bench/cmd/signceiling, same backend),\n", runtime.NumCPU())
	fmt.Fprintf(out, "              measured in %d slices alternating with the load slices of the same phase\n", l.o.rounds)
	fmt.Fprintf(out, "  ratio:      exchanges/s over sign/s\n")
	fmt.Fprintf(out, "  bridge CPU: user+system CPU of the bridge process per exchange; sign CPU: per signature alone;\n")
	fmt.Fprintf(out, "              share: sign CPU over bridge CPU, the part of the bridge's work that is the signature\n")
	fmt.Fprintf(out, "  load CPU:   CPU of this load generator per exchange, taken from the same cores\n")
	fmt.Fprintf(out, "  peak RSS:   the bridge's VmHWM after the phase\n\n")
}

// reportPeer prints the bridge against the Node peer, when it ran.
func (l *loadRun) reportPeer(u *uncachedResults) {
	if !u.peer {
		return
	}
	out := l.out
	fmt.Fprintf(out, "bridge against the Node peer (%d workers), closed loop, the same stand-in, key and sessions, alternating slices\n", l.o.peerWorkers)
	fmt.Fprintf(out, "%5s %8s %8s %8s | %8s %8s %8s %10s | %7s %9s %9s\n",
		"conns", "bridge/s", "p50", "p99", "peer/s", "p50", "p99", "peer CPU", "× rate", "p99 ratio", "peer RSS")
	for _, p := range u.phases {
		fmt.Fprintf(out, "%5d %8.0f %8s %8s | %8.0f %8s %8s %7.0fµs/r | %6.2f× %8.2f %6.1f MB\n",
			p.conns, p.res.rate(), ms(p.res.quantile(0.50)), ms(p.res.quantile(0.99)),
			p.peer.rate(), ms(p.peer.quantile(0.50)), ms(p.peer.quantile(0.99)), perReq(p.peerCPU, p.peer.ok),
			p.res.rate()/p.peer.rate(), ratio(p.res.quantile(0.99), p.peer.quantile(0.99)), float64(p.peerHWM)/1024)
	}
	fmt.Fprintf(out, "  × rate: bridge exchanges/s over the peer's; p99 ratio: the bridge's p99 over the peer's\n")
	fmt.Fprintf(out, "  inside the bridge (its exchange log lines' latency_ms: handler start, queue included, to the answer):\n")
	peerErrors := 0
	for _, p := range u.phases {
		fmt.Fprintf(out, "    %3d conns: p50 %s, p99 %s of the client's p50 %s, p99 %s\n", p.conns,
			ms(p.inside.quantile(0.5)), ms(p.inside.quantile(0.99)), ms(p.res.quantile(0.5)), ms(p.res.quantile(0.99)))
		peerErrors += p.peer.errors
	}
	fmt.Fprintf(out, "  peer CPU and RSS: the peer's process tree (primary and workers); the peer's errors: %d\n\n", peerErrors)
}

// reportOpen prints the open-loop rates, when any ran.
func (l *loadRun) reportOpen(u *uncachedResults) {
	if len(u.opens) == 0 {
		return
	}
	out := l.out
	fmt.Fprintf(out, "open loop: a fixed offered rate over %d connections, latency from each request's intended send time\n", l.o.openConns)
	fmt.Fprintf(out, "%7s %8s %8s %8s %6s", "offered", "bridge/s", "p50", "p99", "errors")
	if u.peer {
		fmt.Fprintf(out, " | %8s %8s %8s %6s | %9s", "peer/s", "p50", "p99", "errors", "p99 ratio")
	}
	fmt.Fprintln(out)
	for _, op := range u.opens {
		fmt.Fprintf(out, "%7d %8.0f %8s %8s %6d", op.rate, op.res.rate(), ms(op.res.quantile(0.50)), ms(op.res.quantile(0.99)), op.res.errors)
		if u.peer {
			fmt.Fprintf(out, " | %8.0f %8s %8s %6d | %9.2f", op.peer.rate(), ms(op.peer.quantile(0.50)), ms(op.peer.quantile(0.99)), op.peer.errors,
				ratio(op.res.quantile(0.99), op.peer.quantile(0.99)))
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out)
}

// drawChart draws exchanges/s and p99 against connections, with -chart.
func (l *loadRun) drawChart(u *uncachedResults) error {
	if l.o.chart == "" {
		return nil
	}
	all := []series{{name: "dfbridge"}}
	if u.peer {
		all = append(all, series{name: fmt.Sprintf("Node peer, %d workers", l.o.peerWorkers)})
	}
	for _, p := range u.phases {
		for i, r := range []*result{p.res, p.peer}[:len(all)] {
			all[i].conns = append(all[i].conns, p.conns)
			all[i].rate = append(all[i].rate, r.rate())
			all[i].p99 = append(all[i].p99, float64(r.quantile(0.99))/float64(time.Millisecond))
		}
	}
	title := fmt.Sprintf("POST /exchange, key-file signing, uncached; %d cores, %s", runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	if err := writeChart(l.o.chart, title, all); err != nil {
		return err
	}
	fmt.Fprintf(l.out, "chart: %s\n\n", l.o.chart)
	return nil
}
