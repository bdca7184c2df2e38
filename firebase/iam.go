package firebase

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Keyless signing is one IAM Credentials signBlob call per custom token, so
// the path to IAM is the exchange's critical path. iamTransport is what the
// Admin SDK's IAM client runs on:
//
//   - one pooled, kept-alive connection set sized to the concurrency (HTTP/2
//     when IAM offers it), so a burst opens no new TLS connections;
//   - at most MaxInFlight signBlob calls at once;
//   - 429s (IAM quota) retried with jittered backoff that honours
//     Retry-After, as long as the wait fits the request's deadline (the
//     Admin SDK retries 503s and network errors itself; it does not retry
//     429s);
//   - a breaker: after BreakerFailures failed calls in a row it stays open
//     for BreakerCooldown, and Mint fails at once with a 503 instead of
//     queueing every exchange behind an IAM that is down. Only IAM's own
//     failures count (5xx, 429 past the retries, transport errors, the
//     signing deadline running out): a caller that hangs up or whose own
//     deadline ends is not IAM failing. After the cool-down one probe call
//     goes through (half-open): its success closes the breaker, its
//     failure opens it again; other calls fail fast meanwhile.
type iamTransport struct {
	next        http.RoundTripper
	sem         chan struct{}
	maxAttempts int
	base        time.Duration
	observe     func(outcome string, d time.Duration)

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	// probing is set while the one half-open probe call is in flight.
	probing   bool
	threshold int
	cooldown  time.Duration
	now       func() time.Time
}

// IAMOptions tune keyless signing; zero values take the defaults.
type IAMOptions struct {
	// MaxInFlight bounds concurrent signBlob calls (default 64); the pool
	// keeps as many connections idle.
	MaxInFlight int
	// Attempts is how often a 429 is tried in all (default 10); the
	// signing deadline usually ends the retries first.
	Attempts int
	// BreakerFailures and BreakerCooldown: after that many failed calls in
	// a row, fail fast for the cool-down (defaults 8 and 5 s).
	BreakerFailures int
	BreakerCooldown time.Duration
	// Base is the transport under the retries (tests redirect it to a
	// stand-in); default: a pooled transport sized to MaxInFlight.
	Base http.RoundTripper
	// Observe is told each signBlob attempt's outcome and latency.
	Observe func(outcome string, d time.Duration)
}

func newIAMTransport(o IAMOptions) *iamTransport {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 64
	}
	if o.Attempts <= 0 {
		o.Attempts = 10
	}
	if o.BreakerFailures <= 0 {
		o.BreakerFailures = 8
	}
	if o.BreakerCooldown <= 0 {
		o.BreakerCooldown = 5 * time.Second
	}
	if o.Base == nil {
		o.Base = pooledTransport(o.MaxInFlight)
	}
	if o.Observe == nil {
		o.Observe = func(string, time.Duration) {}
	}
	return &iamTransport{
		next: o.Base, sem: make(chan struct{}, o.MaxInFlight), maxAttempts: o.Attempts,
		base: 100 * time.Millisecond, observe: o.Observe,
		threshold: o.BreakerFailures, cooldown: o.BreakerCooldown, now: time.Now,
	}
}

// pooledTransport keeps up to n connections per host alive, so that n
// concurrent calls reuse them rather than dialling (and handshaking) anew:
// Go's default keeps 2, which under load means a TLS handshake for most
// calls over HTTP/1.1.
func pooledTransport(n int) *http.Transport { return PooledTransport(n, nil) }

// PooledTransport is the transport keyless signing runs on by default,
// trusting roots (nil: the system's, which honour SSL_CERT_FILE); tests and
// the benchmark build it to point it at an IAM stand-in.
func PooledTransport(n int, roots *x509.CertPool) *http.Transport {
	var tlsConfig *tls.Config
	if roots != nil {
		tlsConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &http.Transport{
		TLSClientConfig:       tlsConfig,
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * n,
		MaxIdleConnsPerHost:   n,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// errBreakerOpen is what a signBlob call meets while the breaker is open.
var errBreakerOpen = errors.New("IAM signBlob is failing; not calling it for a few seconds")

// open reports whether the breaker is open, and until when.
func (t *iamTransport) open() (bool, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.now().Before(t.openUntil), t.openUntil
}

// admit reports whether a call may go to IAM now, and whether it is the
// half-open probe.
func (t *iamTransport) admit() (ok, probe bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.openUntil.IsZero():
		return true, false
	case t.now().Before(t.openUntil), t.probing:
		return false, false
	}
	t.probing = true
	return true, true
}

// record counts one call's outcome: IAM answered well, or IAM failed.
func (t *iamTransport) record(ok, probe bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if probe {
		t.probing = false
	}
	if ok {
		t.failures = 0
		if probe {
			t.openUntil = time.Time{}
		}
		return
	}
	t.failures++
	if probe || t.failures >= t.threshold {
		t.openUntil = t.now().Add(t.cooldown)
		t.failures = 0
	}
}

// abandon ends a call that says nothing of IAM (its caller went away).
func (t *iamTransport) abandon(probe bool) {
	if probe {
		t.mu.Lock()
		t.probing = false
		t.mu.Unlock()
	}
}

// errSigningDeadline is the cause of a signing context that ran out: IAM
// did not answer in time, which counts against it.
var errSigningDeadline = errors.New("IAM signBlob did not answer within the signing deadline")

// callerGone reports whether ctx ended because of the caller (a hang-up,
// or the caller's own deadline), not because IAM was too slow.
func callerGone(ctx context.Context) bool {
	return ctx.Err() != nil && !errors.Is(context.Cause(ctx), errSigningDeadline)
}

func (t *iamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.URL.Path, ":signBlob") {
		return t.next.RoundTrip(req)
	}
	admitted, probe := t.admit()
	if !admitted {
		t.observe("breaker_open", 0)
		return nil, errBreakerOpen
	}
	ctx := req.Context()
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		t.abandon(probe)
		return nil, ctx.Err()
	}
	defer func() { <-t.sem }()

	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 {
			if req.GetBody == nil {
				return nil, errors.New("signBlob request body cannot be replayed")
			}
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(ctx)
			r.Body = body
		}
		start := time.Now()
		resp, err := t.next.RoundTrip(r)
		d := time.Since(start)
		switch {
		case err != nil && callerGone(ctx):
			t.observe("cancelled", d)
			t.abandon(probe)
			return nil, err
		case err != nil:
			t.observe("error", d)
			t.record(false, probe)
			return nil, err
		case resp.StatusCode < 300:
			t.observe("ok", d)
			t.record(true, probe)
			return resp, nil
		case resp.StatusCode != http.StatusTooManyRequests:
			t.observe(strconv.Itoa(resp.StatusCode/100)+"xx", d)
			t.record(resp.StatusCode < 500, probe)
			return resp, nil
		}
		// 429: IAM's quota. Wait as it asks (or back off), if that fits.
		wait := retryAfter(resp, t.backoff(attempt))
		deadline, hasDeadline := ctx.Deadline()
		if attempt >= t.maxAttempts || (hasDeadline && time.Now().Add(wait).After(deadline)) {
			t.observe("429", d)
			t.record(false, probe)
			return resp, nil
		}
		t.observe("retried_429", d)
		drain(resp)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			t.abandon(probe)
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// backoff is full-jitter exponential: uniform in [0, base·2ⁿ⁻¹], at most 2 s.
func (t *iamTransport) backoff(attempt int) time.Duration {
	ceiling := min(t.base<<(attempt-1), 2*time.Second)
	return rand.N(ceiling + 1) //nolint:gosec // G404: backoff jitter needs spread, not secrecy
}

// retryAfter is the wait a response asks for in Retry-After (seconds, or an
// HTTP date), else def.
func retryAfter(resp *http.Response, def time.Duration) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return def
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(time.Until(at), 0)
	}
	return def
}

func drain(resp *http.Response) {
	buf := make([]byte, 4096)
	for i := 0; i < 16; i++ {
		if _, err := resp.Body.Read(buf); err != nil {
			break
		}
	}
	_ = resp.Body.Close()
}

// signingContext bounds one keyless signature: IAM's retries (the Admin
// SDK's and ours) must end in time for the exchange to be answered.
func signingContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, errSigningDeadline)
}
