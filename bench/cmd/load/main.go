// Command load measures the bridge as it runs in production: it builds
// ./cmd/bridge, starts it as its own process against the local Descope
// stand-in with a generated service-account key (the key-file signing path),
// and drives POST /exchange over loopback from this process with many
// distinct users' pre-minted sessions. It prints requests per second,
// p50/p99 latency, errors and the bridge's peak RSS at each concurrency, the
// RSA-2048 signing ceiling measured on the same cores with the same crypto
// backend just before each phase, the ratio between the two, the cold start
// (process start to first successful exchange), and the cached-repeat rate.
//
//	go run ./bench/cmd/load                         # pure Go crypto
//	go run ./bench/cmd/load -goexperiment boringcrypto
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dfbridge/dfbridge/bench"
)

type options struct {
	duration     time.Duration
	conns        []int
	users        int
	coldRuns     int
	ceilingFor   time.Duration
	goexperiment string
	rounds       int
	profile      string
	shared       bool
	keyless      bool
	peer         bool
	peerWorkers  int
	openRates    []int
	openConns    int
	chart        string
	soak         time.Duration
	soakQuiet    time.Duration
	soakModes    string
	compare      string
	bin          string
}

func main() {
	var o options
	var conns string
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each load phase")
	flag.StringVar(&conns, "conns", "1,16,64", "concurrent connections per phase, comma-separated; cached repeats run at the first of at least 16")
	flag.IntVar(&o.users, "users", 1000, "distinct users with a pre-minted session each")
	flag.IntVar(&o.coldRuns, "cold", 5, "cold starts to measure")
	flag.DurationVar(&o.ceilingFor, "ceiling", 4*time.Second, "length of the RSA-sign ceiling measurement in each phase")
	flag.IntVar(&o.rounds, "rounds", 4, "alternations of ceiling and load within a phase")
	flag.StringVar(&o.profile, "profile", "", "write a CPU profile of the bridge during the first load phase of at least 16 conns to this file")
	flag.StringVar(&o.goexperiment, "goexperiment", "", "GOEXPERIMENT for building the bridge and the ceiling (e.g. boringcrypto)")
	flag.BoolVar(&o.keyless, "keyless", true, "measure keyless signing against an IAM stand-in over TLS + HTTP/2 at 30 ms")
	flag.BoolVar(&o.shared, "shared", true, "measure shared state through Redis (needs Debian's redis-server): the cost of the limit checks, and 3 instances behind a round-robin client")
	flag.BoolVar(&o.peer, "peer", true, "measure the Node peer (bench/peer: node:cluster on @descope/node-sdk and firebase-admin, installed with npm ci) beside the bridge")
	flag.IntVar(&o.peerWorkers, "peer-workers", runtime.NumCPU(), "the Node peer's cluster workers")
	var open string
	flag.StringVar(&open, "open", "500,1000", "offered rates (exchanges/s) of the open-loop phases, comma-separated; empty for none")
	flag.IntVar(&o.openConns, "open-conns", 64, "connections that carry the open-loop phases")
	flag.StringVar(&o.chart, "chart", "", "draw exchanges/s and p99 against connections, bridge and peer, to this .svg or .png")
	flag.DurationVar(&o.soak, "soak", 0, "instead of the load phases, soak the bridge this long in mixed traffic (valid exchanges, hang-ups, hostile tokens, a key spray, slow unsigned and forged webhook floods), with a key file and keyless")
	flag.DurationVar(&o.soakQuiet, "soak-quiet", 10*time.Second, "length of the valid-only phase the soak's p99 is compared with")
	flag.StringVar(&o.soakModes, "soak-modes", "key,keyless", "signing modes the soak runs, comma-separated: key (a key file), keyless (IAM stand-in)")
	flag.StringVar(&o.compare, "compare", "", "instead of the load phases, compare this build with another bridge binary (built from an earlier commit): p50, p99 and exchanges/s side by side, and their ratios")
	flag.StringVar(&o.bin, "bin", "", "run this prebuilt bridge binary instead of building one (to compare a commit against another)")
	flag.Parse()
	for _, c := range strings.Split(open, ",") {
		if strings.TrimSpace(c) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > 20000 {
			fmt.Fprintln(os.Stderr, "load: -open takes rates from 1 to 20000")
			os.Exit(2)
		}
		o.openRates = append(o.openRates, n)
	}
	for _, c := range strings.Split(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > 256 {
			fmt.Fprintln(os.Stderr, "load: -conns takes numbers from 1 to 256")
			os.Exit(2)
		}
		o.conns = append(o.conns, n)
	}
	if o.duration <= 0 || o.duration > 2*time.Minute || o.users < 1 || o.users > 20000 || o.rounds < 1 || o.rounds > 20 {
		fmt.Fprintln(os.Stderr, "load: -duration must be in (0, 2m], -users in [1, 20000], -rounds in [1, 20]")
		os.Exit(2)
	}
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	dir, err := os.MkdirTemp("", "dfbridge-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l := &loadRun{o: o, out: out, dir: dir}
	if err := l.setUp(ctx); err != nil {
		return err
	}
	stand, err := bench.NewStandIn()
	if err != nil {
		return err
	}
	defer stand.Close()
	l.stand, l.saFile = stand, filepath.Join(dir, "sa.json")
	if err := os.WriteFile(l.saFile, stand.SA.JSON, 0o600); err != nil {
		return err
	}
	if o.soak > 0 {
		fmt.Fprintf(out, "bridge binary: %s\n", l.bridgeBin)
		return runSoak(ctx, o, out, l.bridgeBin, dir, soakEnv(stand.Server.URL, l.saFile), stand)
	}
	if l.sessions, err = stand.Sessions(o.users); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d distinct users, one pre-minted Descope session each; %s per phase; key-file signing (RSA-2048)\n\n", o.users, o.duration)
	if o.compare != "" {
		return runCompare(ctx, o, out, l.bridgeBin, dir, l.env, l.sessions)
	}
	return l.measure(ctx)
}

// measure runs the load phases and prints their report.
func (l *loadRun) measure(ctx context.Context) error {
	colds, err := l.coldStarts(ctx)
	if err != nil {
		return err
	}
	u, err := l.uncached(ctx)
	if err != nil {
		return err
	}
	base := u.base()
	cached, cachedHWM, err := l.cachedRepeats(ctx, base.conns)
	if err != nil {
		return err
	}
	l.reportUncached(u)
	l.reportPeer(u)
	l.reportOpen(u)
	if err := l.drawChart(u); err != nil {
		return err
	}
	o, out := l.o, l.out
	fmt.Fprintf(out, "cached repeats (default cache, the same %d sessions again)\n", len(l.sessions))
	fmt.Fprintf(out, "%5d %9.0f %8s %8s %8s %6d   %.1f× the uncached rate at %d conns, peak RSS %.1f MB\n\n",
		base.conns, cached.rate(), ms(cached.quantile(0.50)), ms(cached.quantile(0.99)), ms(cached.quantile(1)),
		cached.errors, cached.rate()/base.res.rate(), base.conns, float64(cachedHWM)/1024)
	fmt.Fprintf(out, "bridge RSS when ready, before any exchange: %.1f MB\n", float64(u.idleRSS)/1024)
	fmt.Fprintf(out, "cold start (process start to first successful exchange), %d runs: min %s, median %s, max %s\n",
		len(colds), ms(colds[0]), ms(colds[len(colds)/2]), ms(colds[len(colds)-1]))
	if o.keyless {
		if err := runKeyless(ctx, o, out, l.bridgeBin, l.dir, l.env, l.sessions); err != nil {
			return fmt.Errorf("keyless: %w", err)
		}
	}
	if o.shared {
		if err := runShared(ctx, o, out, l.bridgeBin, l.dir, l.env, l.sessions); err != nil {
			return fmt.Errorf("shared state: %w", err)
		}
	}
	fmt.Fprintf(out, "load average after: %s\n", loadAvg())
	return nil
}

// build compiles the bridge and the ceiling with the same settings, and
// the bridge as the container image ships it: static, no cgo, stripped
// (scripts/build-static.sh). BoringCrypto needs cgo, so that build links
// statically through the C toolchain instead, as scripts/build-static.sh
// does for the image's GOEXPERIMENT build arg.
func build(ctx context.Context, dir, goexperiment string, profile bool) (bridgeBin, ceilingBin string, err error) {
	bridgeBin, ceilingBin = filepath.Join(dir, "bridge"), filepath.Join(dir, "signceiling")
	for bin, pkg := range map[string]string{bridgeBin: "./cmd/bridge", ceilingBin: "./bench/cmd/signceiling"} {
		args := []string{"build", "-trimpath", "-o", bin}
		tags := []string{}
		if profile && bin == bridgeBin {
			tags = append(tags, "pprof")
		}
		env := append(os.Environ(), "CGO_ENABLED=0")
		ldflags := "-s -w"
		if goexperiment != "" {
			env = append(os.Environ(), "GOEXPERIMENT="+goexperiment, "CGO_ENABLED=1")
			tags = append(tags, "netgo", "osusergo")
			ldflags += " -linkmode=external -extldflags=-static"
		}
		args = append(args, "-ldflags="+ldflags)
		if len(tags) > 0 {
			args = append(args, "-tags="+strings.Join(tags, ","))
		}
		cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("building %s: %w\n%s", pkg, err, b)
		}
	}
	return bridgeBin, ceilingBin, nil
}

// bridge is a running bridge process.
type bridge struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
	once   sync.Once
	tree   bool // measure the process with its children (the Node peer's cluster)
	log    string
}

// passThrough is the bridge settings given to the load command as
// BRIDGE_<NAME>: the Go runtime's knobs and any of names.
func passThrough(names ...string) []string {
	var out []string
	for _, k := range append([]string{"GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS"}, names...) {
		if v, ok := os.LookupEnv("BRIDGE_" + k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// spawn starts the bridge with env, its log lines going to a file as they
// would go to Cloud Logging's collector.
func spawn(ctx context.Context, bin, dir, name string, env []string) (*bridge, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(env, "PORT="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting bridge: %w", err)
	}
	b := &bridge{cmd: cmd, url: fmt.Sprintf("127.0.0.1:%d", port), exited: make(chan struct{}), log: logf.Name()}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(b.exited)
	}()
	return b, nil
}

// startBridge spawns a bridge and waits until /readyz answers 200.
func startBridge(ctx context.Context, bin, dir, name string, env []string) (*bridge, error) {
	b, err := spawn(ctx, bin, dir, name, env)
	if err != nil {
		return nil, err
	}
	if !b.waitReady(15 * time.Second) {
		b.stop()
		return nil, fmt.Errorf("bridge did not become ready within 15s (log: %s)", filepath.Join(dir, name+".log"))
	}
	return b, nil
}

// waitReady polls /readyz until it answers 200, the process exits, or d
// passes; it reports whether the process became ready.
func (b *bridge) waitReady(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-b.exited:
			return false
		default:
		}
		resp, err := http.Get("http://" + b.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (b *bridge) stop() {
	b.once.Do(func() {
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(10 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
	})
}

// peakRSS is the bridge's VmHWM in KiB: the most resident memory it has had.
func (b *bridge) peakRSS() int64 { return b.status("VmHWM:") }

// rss is the bridge's resident memory now, in KiB.
func (b *bridge) rss() int64 { return b.status("VmRSS:") }

// status sums a /proc/<pid>/status field (in KiB) over the process, or
// over its tree.
func (b *bridge) status(field string) int64 {
	var sum int64 = -1
	for _, pid := range b.pids() {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, field); ok {
				n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				sum = max(sum, 0) + n
			}
		}
	}
	return sum
}

// cpu is the user+system CPU time so far of the bridge, or of the tree.
func (b *bridge) cpu() time.Duration {
	var ticks int64
	for _, pid := range b.pids() {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses.
		f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += utime + stime
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// coldStart spawns a bridge and exchanges session as soon as it answers.
func coldStart(ctx context.Context, bin, _ string, env []string, session string) (time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	req := exchangeRequest(session)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(env, "PORT="+strconv.Itoa(port))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	for time.Since(start) < 10*time.Second {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		status, err := roundTrip(conn, bufio.NewReader(conn), req)
		conn.Close()
		if err == nil && status == http.StatusOK {
			return time.Since(start), nil
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, errors.New("no successful exchange within 10s")
}

// fetchProfile saves one of the bridge's pprof profiles.
func fetchProfile(addr, profile, path string) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/%s", addr, profile))
	if err != nil {
		return fmt.Errorf("fetching profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching profile: status %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("saving profile: %w", err)
	}
	return f.Close()
}

// ceiling is the signceiling command's answer.
type ceiling struct {
	Signs        int64   `json:"signs"`
	Seconds      float64 `json:"seconds"`
	CPUSeconds   float64 `json:"cpuSeconds"`
	Procs        int     `json:"procs"`
	GOEXPERIMENT string  `json:"goexperiment"`
}

func (c ceiling) perSecond() float64 { return float64(c.Signs) / c.Seconds }

// cpuPerSign is the CPU time one signature takes.
func (c ceiling) cpuPerSign() time.Duration {
	return time.Duration(c.CPUSeconds / float64(c.Signs) * float64(time.Second))
}

func (c *ceiling) add(o ceiling) {
	c.Signs += o.Signs
	c.Seconds += o.Seconds
	c.CPUSeconds += o.CPUSeconds
	c.Procs, c.GOEXPERIMENT = o.Procs, o.GOEXPERIMENT
}

func measureCeiling(ctx context.Context, bin string, d time.Duration) (ceiling, error) {
	var c ceiling
	b, err := exec.CommandContext(ctx, bin, "-duration", d.String()).Output()
	if err != nil {
		return c, fmt.Errorf("measuring the signing ceiling: %w", err)
	}
	return c, json.Unmarshal(b, &c)
}

// result is one load phase.
type result struct {
	ok, errors int
	elapsed    time.Duration
	latencies  []time.Duration
}

func (r *result) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r *result) add(o *result) {
	r.ok += o.ok
	r.errors += o.errors
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
	slices.Sort(r.latencies)
}

func (r *result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(r.latencies)-1))
	return r.latencies[i]
}

// exchangeRequest is one POST /exchange, bytes ready to write.
func exchangeRequest(session string) []byte {
	return []byte("POST /exchange HTTP/1.1\r\nHost: bridge\r\nAuthorization: Bearer " + session +
		"\r\nContent-Length: 0\r\n\r\n")
}

// roundTrip writes req and reads the whole response on a kept-alive
// connection. Requests are prepared bytes and responses are read for their
// status and length only, so the generator spends its CPU on little more
// than the socket and leaves the cores to the bridge.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) (int, error) {
	if _, err := conn.Write(req); err != nil {
		return 0, err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, errors.New("malformed status line")
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errors.New("malformed status code")
	}
	length := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(name, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return 0, errors.New("malformed content length")
			}
		}
	}
	if length < 0 {
		return 0, errors.New("response without content length")
	}
	if _, err := br.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}

// onePass tells drive to exchange every session once, then stop.
const onePass = time.Duration(-1)

// drive runs conns closed-loop workers, each on its own connection, for d.
// Worker i starts at session i and steps by conns, so in-flight requests
// always carry distinct sessions.
func drive(ctx context.Context, addr string, sessions []string, conns int, d time.Duration) (*result, error) {
	return driveAll(ctx, []string{addr}, sessions, conns, d)
}

// driveAll is drive against several bridges, round robin by connection:
// connection i goes to addrs[i % len(addrs)].
func driveAll(ctx context.Context, addrs []string, sessions []string, conns int, d time.Duration) (*result, error) {
	reqs := exchangeRequests(sessions)
	workers := make([]worker, conns)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	if d == onePass {
		deadline = start.Add(time.Hour)
	}
	for w := range workers {
		wg.Add(1)
		go func(w *worker, next int) {
			defer wg.Done()
			addr := addrs[next%len(addrs)]
			w.lat = make([]time.Duration, 0, 4096)
			var conn net.Conn
			var br *bufio.Reader
			for time.Now().Before(deadline) && ctx.Err() == nil && (d != onePass || next < len(reqs)) {
				if conn == nil {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						w.err = err
						return
					}
					conn, br = c, bufio.NewReaderSize(c, 8<<10)
				}
				t0 := time.Now()
				status, err := roundTrip(conn, br, reqs[next%len(reqs)])
				lat := time.Since(t0)
				next += conns
				if err != nil || status != http.StatusOK {
					w.errs++
					if err != nil {
						conn.Close()
						conn = nil
					}
					continue
				}
				w.ok++
				w.lat = append(w.lat, lat)
			}
			if conn != nil {
				conn.Close()
			}
		}(&workers[w], w)
	}
	wg.Wait()
	return merge(workers, start)
}

// worker is one connection's share of a phase.
type worker struct {
	ok, errs int
	lat      []time.Duration
	err      error
}

// merge sums the workers of a phase that started at start.
func merge(workers []worker, start time.Time) (*result, error) {
	r := &result{elapsed: time.Since(start)}
	for _, w := range workers {
		if w.err != nil {
			return nil, fmt.Errorf("connecting to the server: %w", w.err)
		}
		r.ok += w.ok
		r.errors += w.errs
		r.latencies = append(r.latencies, w.lat...)
	}
	slices.Sort(r.latencies)
	return r, nil
}

// exchangeRequests is one prepared request per session.
func exchangeRequests(sessions []string) [][]byte {
	reqs := make([][]byte, len(sessions))
	for i, s := range sessions {
		reqs[i] = exchangeRequest(s)
	}
	return reqs
}

// ratio is a over b, or 0 when b is 0.
func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func perReq(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(n)
}

func cpuModel() string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}

func loadAvg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
func numCPU() int { return runtime.NumCPU() }

// logSize is the length of the bridge's log so far.
func (b *bridge) logSize() int64 {
	fi, err := os.Stat(b.log)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// handlerLatencies reads the latency_ms of the successful exchange log
// lines written since offset from: the bridge's own view of each exchange,
// from its handler's start to its answer.
func (b *bridge) handlerLatencies(from int64) (*result, error) {
	f, err := os.Open(b.log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, err
	}
	r := &result{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg       string  `json:"message"`
			Code      string  `json:"code"`
			LatencyMS float64 `json:"latency_ms"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != "exchange" || line.Code != "ok" {
			continue
		}
		r.ok++
		r.latencies = append(r.latencies, time.Duration(line.LatencyMS*float64(time.Millisecond)))
	}
	slices.Sort(r.latencies)
	return r, sc.Err()
}
