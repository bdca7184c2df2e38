package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dfbridge/dfbridge/bench"
)

// soakAuditSecret is the audit webhook's HMAC secret in the soak: the
// floods never know it.
const soakAuditSecret = "soak-audit-secret-0123456789abcdef"

// soakTraffic is what one soak run sent and got back.
type soakTraffic struct {
	mu        sync.Mutex
	latencies []time.Duration
	status    map[string]map[int]int // traffic kind → status → count
	firstTry  atomic.Int64           // new users' first exchanges
	firstLock atomic.Int64           // of those, refused with 429
	sent      map[string]*atomic.Int64
}

func newSoakTraffic() *soakTraffic {
	t := &soakTraffic{status: map[string]map[int]int{}, sent: map[string]*atomic.Int64{}}
	for _, k := range []string{"valid", "hang-up", "hostile", "spray", "unsigned", "forged"} {
		t.status[k] = map[int]int{}
		t.sent[k] = &atomic.Int64{}
	}
	return t
}

func (t *soakTraffic) record(kind string, status int, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status[kind][status]++
	if kind == "valid" && status == http.StatusOK {
		t.latencies = append(t.latencies, d)
	}
}

func (t *soakTraffic) count(kind string, pred func(int) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for s, c := range t.status[kind] {
		if pred(s) {
			n += c
		}
	}
	return n
}

func (t *soakTraffic) quantile(q float64) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.latencies) == 0 {
		return 0
	}
	slices.Sort(t.latencies)
	return t.latencies[min(int(q*float64(len(t.latencies))), len(t.latencies)-1)]
}

// runSoak keeps the bridge under mixed traffic, the traffic it must
// survive in production, and reports what valid clients saw: valid
// exchanges from a pool of addresses; new users' first exchanges from
// addresses never seen; clients hanging up mid-request; hostile tokens,
// each from an address never seen (a key spray); and slow 1 MiB audit
// deliveries, half unsigned and half with a forged signature. It runs with
// a key file and keyless through the IAM stand-in, with the limits at their
// defaults and TRUSTED_PROXY_HOPS=1 (addresses from X-Forwarded-For, as on
// Cloud Run).
func runSoak(ctx context.Context, o options, out io.Writer, bin, dir string, env func(...string) []string, stand *bench.StandIn) error {
	sessions, err := stand.Sessions(1000)
	if err != nil {
		return err
	}
	fresh := make([]string, 2000)
	for i := range fresh {
		if fresh[i], err = stand.Stub.MintSession(bench.TypicalSession(fmt.Sprintf("U2new%06d", i))); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "soak: %s of mixed traffic after %s of valid exchanges alone, per signing mode\n", o.soak, o.soakQuiet)
	fmt.Fprintf(out, "%-9s %8s %5s %5s %9s %8s %8s %8s %7s %9s %7s  %s\n", "signing", "valid ok", "5xx", "429", "new 429", "p99 quiet",
		"p99 soak", "ratio", "peakRSS", "hang-ups", "spray", "hostile / unsigned / forged (answers)")
	modes := []struct {
		name, flag string
		env        func() ([]string, func(), error)
	}{
		{"key file", "key", func() ([]string, func(), error) { return nil, func() {}, nil }},
		{"keyless", "keyless", func() ([]string, func(), error) {
			iam, err := startIAM(dir, 30*time.Millisecond)
			if err != nil {
				return nil, nil, err
			}
			return iam.env, iam.close, nil
		}},
	}
	for _, m := range modes {
		if !slices.Contains(strings.Split(o.soakModes, ","), m.flag) {
			continue
		}
		extra, stop, err := m.env()
		if err != nil {
			return err
		}
		err = soakOnce(ctx, o, out, m.name, bin, dir, env(append(extra,
			"RATE_LIMIT_IP_PER_MINUTE=600", "RATE_LIMIT_IP_BURST=100",
			"RATE_LIMIT_USER_PER_MINUTE=60", "RATE_LIMIT_USER_BURST=20",
			"TRUSTED_PROXY_HOPS=1", "EXCHANGE_CACHE_SIZE=0",
			"AUDIT_WEBHOOK_HMAC_SECRETS="+soakAuditSecret, "DESCOPE_MANAGEMENT_KEY=K2soak")...), sessions, fresh)
		stop()
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "  valid ok, 5xx, 429: answers to valid exchanges during the soak (5xx target 0); new 429: new users' first exchanges, from\n")
	fmt.Fprintf(out, "  addresses never seen, refused as rate limited; p99 quiet and soak: valid exchanges alone, then under the soak; ratio: soak/quiet;\n")
	fmt.Fprintf(out, "  peakRSS: the bridge's VmHWM; the last column counts what each hostile kind sent and how it was answered\n\n")
	return nil
}

// soakOnce starts one bridge and runs the quiet phase, then the soak.
func soakOnce(ctx context.Context, o options, out io.Writer, name, bin, dir string, env []string, sessions, fresh []string) error {
	b, err := startBridge(ctx, bin, dir, "soak-"+name, env)
	if err != nil {
		return err
	}
	defer b.stop()
	base := "http://" + b.url
	quiet := newSoakTraffic()
	qctx, cancel := context.WithTimeout(ctx, o.soakQuiet)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { validLoop(qctx, base, sessions, i, quiet) })
	}
	wg.Wait()
	cancel()

	soak := newSoakTraffic()
	sctx, cancel := context.WithTimeout(ctx, o.soak)
	defer cancel()
	for i := range 8 {
		wg.Go(func() { validLoop(sctx, base, sessions, i, soak) })
	}
	wg.Go(func() { newUsersLoop(sctx, base, fresh, soak) })
	for range 8 {
		wg.Go(func() { hangUpLoop(sctx, b.url, sessions, soak) })
	}
	for range 4 {
		wg.Go(func() { hostileLoop(sctx, base, soak) })
	}
	for range 4 {
		wg.Go(func() { sprayLoop(sctx, b.url, soak) })
	}
	for i := range 300 {
		kind := "unsigned"
		if i%2 == 1 {
			kind = "forged"
		}
		wg.Go(func() { slowDeliveryLoop(sctx, b.url, kind, soak) })
	}
	wg.Wait()

	valid5xx := soak.count("valid", func(s int) bool { return s >= 500 || s == 0 })
	answers := func(kind string) string {
		soak.mu.Lock()
		defer soak.mu.Unlock()
		keys := slices.Sorted(func(yield func(int) bool) {
			for s := range soak.status[kind] {
				if !yield(s) {
					return
				}
			}
		})
		parts := ""
		for _, s := range keys {
			parts += fmt.Sprintf(" %d×%d", s, soak.status[kind][s])
		}
		return fmt.Sprintf("%d:%s", soak.sent[kind].Load(), parts)
	}
	fmt.Fprintf(out, "%-9s %8d %5d %5d %4d/%-4d %8s %8s %8.2f %6.0fMB %9d %7d  %s / %s / %s\n", name,
		soak.count("valid", func(s int) bool { return s == http.StatusOK }), valid5xx,
		soak.count("valid", func(s int) bool { return s == http.StatusTooManyRequests }),
		soak.firstLock.Load(), soak.firstTry.Load(), ms(quiet.quantile(0.99)), ms(soak.quantile(0.99)),
		ratio(soak.quantile(0.99), quiet.quantile(0.99)), float64(b.peakRSS())/1024, soak.sent["hang-up"].Load(), soak.sent["spray"].Load(),
		answers("hostile"), answers("unsigned"), answers("forged"))
	return nil
}

// clientAddr is the X-Forwarded-For entry of client i of a pool.
func clientAddr(i int) string { return fmt.Sprintf("198.51.100.%d", i%256) }

// sprayAddr is an address never used before: a fresh IPv6 /64.
func sprayAddr(n int64) string { return fmt.Sprintf("2001:db8:%x:%x::1", n>>16, n&0xffff) }

var sprayCounter atomic.Int64

func exchange(ctx context.Context, c *http.Client, base, session, addr string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/exchange", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+session)
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func soakClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 30 * time.Second}
}

// validLoop exchanges valid sessions as an app's users would.
func validLoop(ctx context.Context, base string, sessions []string, worker int, t *soakTraffic) {
	c := soakClient()
	for i := worker; ctx.Err() == nil; i += 8 {
		start := time.Now()
		status, err := exchange(ctx, c, base, sessions[i%len(sessions)], clientAddr(i))
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			status = 0 // a failed connection counts with the 5xx
		}
		t.sent["valid"].Add(1)
		t.record("valid", status, time.Since(start))
	}
}

// newUsersLoop sends, every 50 ms, a new user's first exchange from an
// address never seen: the login storm the limiters must not lock out.
func newUsersLoop(ctx context.Context, base string, fresh []string, t *soakTraffic) {
	c := soakClient()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ctx.Err() == nil && i < len(fresh); i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		status, err := exchange(ctx, c, base, fresh[i], sprayAddr(sprayCounter.Add(1)))
		if err != nil || ctx.Err() != nil {
			continue
		}
		t.firstTry.Add(1)
		if status == http.StatusTooManyRequests {
			t.firstLock.Add(1)
		}
		t.record("valid", status, 0)
	}
}

// hangUpLoop sends valid exchanges and hangs up before the answer, as apps
// sent to the background and load balancers' timeouts do.
func hangUpLoop(ctx context.Context, addr string, sessions []string, t *soakTraffic) {
	for i := 0; ctx.Err() == nil; i++ {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue
		}
		req := fmt.Sprintf("POST /exchange HTTP/1.1\r\nHost: bridge\r\nAuthorization: Bearer %s\r\nX-Forwarded-For: %s\r\nContent-Length: 0\r\n\r\n",
			sessions[i%len(sessions)], clientAddr(i))
		_, _ = io.WriteString(conn, req)
		n, _ := rand.Int(rand.Reader, big.NewInt(15))
		time.Sleep(time.Duration(n.Int64()+1) * time.Millisecond)
		_ = conn.Close()
		t.sent["hang-up"].Add(1)
	}
}

// hostileLoop sends tokens that must be refused, each from a new address.
func hostileLoop(ctx context.Context, base string, t *soakTraffic) {
	c := soakClient()
	junk := make([]byte, 256)
	for i := 0; ctx.Err() == nil; i++ {
		_, _ = rand.Read(junk)
		var tok string
		switch i % 3 {
		case 0:
			tok = "eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vLXN1Y2gta2V5In0." + base64.RawURLEncoding.EncodeToString(junk[:64]) + "." + base64.RawURLEncoding.EncodeToString(junk[64:])
		case 1:
			tok = base64.RawURLEncoding.EncodeToString(junk)
		default:
			tok = "eyJhbGciOiJub25lIn0.e30."
		}
		status, err := exchange(ctx, c, base, tok, sprayAddr(sprayCounter.Add(1)))
		if err != nil || ctx.Err() != nil {
			continue
		}
		t.sent["hostile"].Add(1)
		t.record("hostile", status, 0)
	}
}

// sprayLoop sends cheap refused exchanges as fast as the bridge answers,
// each from an address never seen: the spray of keys the per-address
// limiter must survive without locking new clients out.
func sprayLoop(ctx context.Context, addr string, t *soakTraffic) {
	for ctx.Err() == nil {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue
		}
		br := bufio.NewReader(conn)
		for ctx.Err() == nil {
			req := "POST /exchange HTTP/1.1\r\nHost: bridge\r\nAuthorization: Bearer x\r\nContent-Length: 0\r\nX-Forwarded-For: " +
				sprayAddr(sprayCounter.Add(1)) + "\r\n\r\n"
			if _, err := io.WriteString(conn, req); err != nil {
				break
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			t.sent["spray"].Add(1)
			t.record("spray", resp.StatusCode, 0)
		}
		_ = conn.Close()
	}
}

// slowDeliveryLoop posts 1 MiB audit deliveries slowly, unsigned or with a
// forged signature, each from a new address.
func slowDeliveryLoop(ctx context.Context, addr, kind string, t *soakTraffic) {
	chunk := bytes.Repeat([]byte(" "), 64<<10)
	var next time.Time
	for ctx.Err() == nil {
		// A slow sender starts a delivery every 2 s at most, however fast
		// it is refused: the flood is the same size for every bridge.
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		next = time.Now().Add(2 * time.Second)
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue
		}
		head := "POST /webhook/audit HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(1<<20) +
			"\r\nX-Forwarded-For: " + sprayAddr(sprayCounter.Add(1)) + "\r\n"
		if kind == "forged" {
			head += "X-Descope-Webhook-S256: " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) + "\r\n"
		}
		t.sent[kind].Add(1)
		_, _ = io.WriteString(conn, head+"\r\n")
		answered := make(chan int, 1)
		go func() {
			buf := make([]byte, 64)
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			n, _ := io.ReadAtLeast(conn, buf, 12)
			if n >= 12 {
				s, _ := strconv.Atoi(string(buf[9:12]))
				answered <- s
				return
			}
			answered <- 0
		}()
		status := -1
	send:
		for sent := 0; sent < 1<<20; sent += len(chunk) {
			select {
			case status = <-answered:
				break send
			case <-ctx.Done():
				break send
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := conn.Write(chunk); err != nil {
				break
			}
		}
		if status == -1 {
			select {
			case status = <-answered:
			case <-time.After(5 * time.Second):
				status = 0
			}
		}
		_ = conn.Close()
		if ctx.Err() == nil {
			t.record(kind, status, 0)
		}
	}
}

// soakEnv is the environment of a soaked bridge, before its mode's and
// limits' settings.
func soakEnv(descopeURL, saFile string) func(...string) []string {
	return func(extra ...string) []string {
		// The Go runtime's own knobs pass through (BRIDGE_GOGC=...), and
		// BRIDGE_DFBRIDGE_PPROF_ADDR for a bridge built with -tags pprof.
		extra = append(extra, passThrough("DFBRIDGE_PPROF_ADDR")...)
		return append([]string{
			"LISTEN_HOST=127.0.0.1",
			"DESCOPE_PROJECT_ID=" + bench.ProjectID,
			"DESCOPE_BASE_URL=" + descopeURL,
			"GOOGLE_APPLICATION_CREDENTIALS=" + saFile,
			"LOG_LEVEL=warn",
			"PATH=" + os.Getenv("PATH"),
		}, extra...)
	}
}
