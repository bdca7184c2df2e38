package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/dfbridge/dfbridge/bench"
)

// loadRun is one run of the load command: its options, the binaries it
// built and the stand-in and sessions every phase shares.
type loadRun struct {
	o                     options
	out                   io.Writer
	dir                   string
	bridgeBin, ceilingBin string
	stand                 *bench.StandIn
	saFile                string
	sessions              []string
}

// setUp prints the run's header, builds the binaries (or takes -bin) and
// installs the Node peer when it is measured.
func (l *loadRun) setUp(ctx context.Context) error {
	o, out := l.o, l.out
	fmt.Fprintf(out, "dfbridge load benchmark, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(out, "machine: %d cores (nproc), %s, %s, load average %s\n", runtime.NumCPU(), cpuModel(), runtime.Version(), loadAvg())
	backend := "pure Go crypto"
	if o.goexperiment != "" {
		backend = "GOEXPERIMENT=" + o.goexperiment
	}
	fmt.Fprintf(out, "bridge and ceiling built with: %s, static, -trimpath -ldflags='-s -w' (as scripts/build-static.sh builds the image)\n", backend)
	if o.bin == "" || o.soak == 0 {
		var err error
		if l.bridgeBin, l.ceilingBin, err = build(ctx, l.dir, o.goexperiment, o.profile != ""); err != nil {
			return err
		}
	}
	if o.bin != "" {
		l.bridgeBin = o.bin
	}
	if o.peer && o.soak == 0 && o.compare == "" {
		if err := installPeer(ctx); err != nil {
			return err
		}
		fmt.Fprintf(out, "Node peer: %s, node:cluster with %d workers, @descope/node-sdk and firebase-admin as pinned in %s/package.json\n", nodeVersion(), o.peerWorkers, peerDir)
	}
	return nil
}

// env is the bridge's environment for a phase, with extra settings.
func (l *loadRun) env(extra ...string) []string {
	// The Go runtime's own knobs pass through, to try GC settings.
	extra = append(extra, passThrough("EXCHANGE_IN_FLIGHT_PER_CORE")...)
	return append([]string{
		"LISTEN_HOST=127.0.0.1",
		"DESCOPE_PROJECT_ID=" + bench.ProjectID,
		"DESCOPE_BASE_URL=" + l.stand.Server.URL,
		"GOOGLE_APPLICATION_CREDENTIALS=" + l.saFile,
		"LOG_LEVEL=info",
		// One loopback client drives every request: the limits are
		// raised out of its way, but their bookkeeping still runs.
		"RATE_LIMIT_IP_PER_MINUTE=60000000", "RATE_LIMIT_IP_BURST=1000000",
		"RATE_LIMIT_USER_PER_MINUTE=6000000", "RATE_LIMIT_USER_BURST=100000",
		"PATH=" + os.Getenv("PATH"),
	}, extra...)
}

// coldStarts measures process start to the first 200 from POST /exchange.
func (l *loadRun) coldStarts(ctx context.Context) ([]time.Duration, error) {
	var colds []time.Duration
	for i := range l.o.coldRuns {
		d, err := coldStart(ctx, l.bridgeBin, l.dir, l.env(), l.sessions[i%len(l.sessions)])
		if err != nil {
			return nil, fmt.Errorf("cold start: %w", err)
		}
		colds = append(colds, d)
	}
	slices.Sort(colds)
	return colds, nil
}

// phase is one closed-loop concurrency of the uncached measurement.
type phase struct {
	conns   int
	ceiling ceiling
	res     *result
	hwm     int64
	cpu     time.Duration
	selfCPU time.Duration
	peer    *result
	peerCPU time.Duration
	peerHWM int64
	inside  *result // the bridge's own latency, from its log lines
}

// openPhase is one offered rate of the open-loop measurement.
type openPhase struct {
	rate      int
	res, peer *result
}

// uncachedResults are the uncached phases, closed and open loop.
type uncachedResults struct {
	phases  []phase
	opens   []openPhase
	idleRSS int64
	peer    bool
}

// base is the phase cached repeats are compared with: the first of at
// least 16 connections, else the last.
func (u *uncachedResults) base() phase {
	base := u.phases[len(u.phases)-1]
	for i := len(u.phases) - 1; i >= 0; i-- {
		if u.phases[i].conns >= 16 {
			base = u.phases[i]
		}
	}
	return base
}

// uncached measures exchanges with the cache off, so every request is a
// full verify, map and sign whatever the session: the closed-loop phases
// beside the signing ceiling (and the peer), then the open-loop rates.
func (l *loadRun) uncached(ctx context.Context) (*uncachedResults, error) {
	pprofAddr := ""
	if l.o.profile != "" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		pprofAddr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	b, err := startBridge(ctx, l.bridgeBin, l.dir, "uncached", l.env("EXCHANGE_CACHE_SIZE=0", "DFBRIDGE_PPROF_ADDR="+pprofAddr))
	if err != nil {
		return nil, err
	}
	defer b.stop()
	u := &uncachedResults{idleRSS: b.rss()}
	if _, err := drive(ctx, b.url, l.sessions, 16, time.Second); err != nil { // warm-up, not reported
		return nil, err
	}
	var peer *bridge
	if l.o.peer {
		if peer, err = l.startPeer(ctx); err != nil {
			return nil, err
		}
		defer peer.stop()
		u.peer = true
	}
	for i, c := range l.o.conns {
		p, err := l.closedPhase(ctx, b, peer, c, i == l.profiledPhase(), pprofAddr)
		if err != nil {
			return nil, err
		}
		u.phases = append(u.phases, p)
	}
	for _, rate := range l.o.openRates {
		op, err := l.openPhase(ctx, b, peer, rate)
		if err != nil {
			return nil, err
		}
		u.opens = append(u.opens, op)
	}
	return u, nil
}

// startPeer starts the Node peer on the same stand-in and key, warmed up.
func (l *loadRun) startPeer(ctx context.Context) (*bridge, error) {
	peer, err := startPeer(ctx, l.dir, l.o.peerWorkers, []string{
		"DESCOPE_PROJECT_ID=" + bench.ProjectID, "DESCOPE_BASE_URL=" + l.stand.Server.URL,
		"GOOGLE_APPLICATION_CREDENTIALS=" + l.saFile, "PATH=" + os.Getenv("PATH")})
	if err != nil {
		return nil, err
	}
	if _, err := drive(ctx, peer.url, l.sessions, 16, 2*time.Second); err != nil { // warm-up (and JIT), not reported
		peer.stop()
		return nil, err
	}
	return peer, nil
}

// profiledPhase is the phase -profile profiles: the first of at least 16
// connections, else the first; -1 without -profile.
func (l *loadRun) profiledPhase() int {
	if l.o.profile == "" {
		return -1
	}
	profiled := 0
	for i := len(l.o.conns) - 1; i >= 0; i-- {
		if l.o.conns[i] >= 16 {
			profiled = i
		}
	}
	return profiled
}

// closedPhase measures one concurrency. The machine may be shared: it
// alternates ceiling and load in rounds, so both see the same background.
func (l *loadRun) closedPhase(ctx context.Context, b, peer *bridge, c int, profiled bool, pprofAddr string) (phase, error) {
	o := l.o
	var profile chan error
	if profiled {
		profile = make(chan error, 1)
		go func() {
			err := fetchProfile(pprofAddr, "profile?seconds="+strconv.Itoa(int((o.duration+o.ceilingFor).Seconds())), o.profile)
			if err == nil { // the heap at the end of the phase, with runtime.MemStats
				err = fetchProfile(pprofAddr, "heap?debug=1", o.profile+".heap.txt")
			}
			profile <- err
		}()
	}
	p := phase{conns: c, res: &result{}, peer: &result{}, inside: &result{}}
	slice := o.duration / time.Duration(o.rounds)
	for range o.rounds {
		ceil, err := measureCeiling(ctx, l.ceilingBin, o.ceilingFor/time.Duration(o.rounds))
		if err != nil {
			return p, err
		}
		p.ceiling.add(ceil)
		cpu0, self0, log0 := b.cpu(), selfCPU(), b.logSize()
		res, err := drive(ctx, b.url, l.sessions, c, slice)
		if err != nil {
			return p, err
		}
		p.cpu += b.cpu() - cpu0
		p.selfCPU += selfCPU() - self0
		p.res.add(res)
		inside, err := b.handlerLatencies(log0)
		if err != nil {
			return p, err
		}
		p.inside.add(inside)
		if peer != nil {
			cpu0 := peer.cpu()
			res, err := drive(ctx, peer.url, l.sessions, c, slice)
			if err != nil {
				return p, err
			}
			p.peerCPU += peer.cpu() - cpu0
			p.peer.add(res)
		}
	}
	p.hwm = b.peakRSS()
	if peer != nil {
		p.peerHWM = peer.peakRSS()
	}
	if profile != nil {
		if err := <-profile; err != nil {
			return p, err
		}
		fmt.Fprintf(l.out, "CPU profile of the bridge at %d conns: %s (go tool pprof -top %s), heap after it: %s.heap.txt\n\n",
			c, o.profile, o.profile, o.profile)
	}
	return p, nil
}

// openPhase offers a fixed rate, bridge and peer in alternating slices,
// latency from each request's intended send time.
func (l *loadRun) openPhase(ctx context.Context, b, peer *bridge, rate int) (openPhase, error) {
	o := l.o
	op := openPhase{rate: rate, res: &result{}, peer: &result{}}
	for range o.rounds {
		res, err := driveOpen(ctx, b.url, l.sessions, rate, o.openConns, o.duration/time.Duration(o.rounds))
		if err != nil {
			return op, err
		}
		op.res.add(res)
		if peer != nil {
			res, err := driveOpen(ctx, peer.url, l.sessions, rate, o.openConns, o.duration/time.Duration(o.rounds))
			if err != nil {
				return op, err
			}
			op.peer.add(res)
		}
	}
	return op, nil
}

// cachedRepeats measures the default cache: every session exchanged once,
// then the same sessions again and again.
func (l *loadRun) cachedRepeats(ctx context.Context, conns int) (*result, int64, error) {
	cb, err := startBridge(ctx, l.bridgeBin, l.dir, "cached", l.env())
	if err != nil {
		return nil, 0, err
	}
	defer cb.stop()
	if _, err := drive(ctx, cb.url, l.sessions, 16, onePass); err != nil {
		return nil, 0, err
	}
	cached, err := drive(ctx, cb.url, l.sessions, conns, l.o.duration)
	if err != nil {
		return nil, 0, err
	}
	return cached, cb.peakRSS(), nil
}
