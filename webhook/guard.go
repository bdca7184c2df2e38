package webhook

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/ratelimit"
)

// DefaultBodyBudget is how many bytes of webhook bodies are read at once,
// across both routes: eight of the largest audit deliveries (Descope sends
// one at a time per connector).
const DefaultBodyBudget = 8 << 20

// bodyWait is the longest a call waits for room in the body budget before
// it is answered 503 busy (Descope retries).
const bodyWait = 2 * time.Second

// Guard bounds what callers nobody has vouched for can cost the webhook
// routes. A call with no credential of a configured type is refused before
// its body is read (Secrets.VerifyHeaders). The bodies that are read share
// a budget of bytes, reserved before reading (the declared length, or the
// route's limit for a chunked body), so slow or forged deliveries cannot
// hold more memory than the budget. And an address whose calls keep failing
// authentication is refused at once (429) until its bucket refills:
// Descope's own calls, which authenticate, are never charged.
type Guard struct {
	// buffers hold bodies being read, by route limit, so a flood of large
	// deliveries reuses memory rather than churning the collector.
	buffers        sync.Map // int64 → *sync.Pool
	bodies         *semaphore.Weighted
	budget         int64
	inUse          atomic.Int64 // bytes of the budget reserved now
	refusals       *ratelimit.Limiter
	trustedProxies int
}

// NewGuard returns a guard with a body budget of budget bytes and a limit
// of refusalsPerMinute failed calls per address (0: no limit).
func NewGuard(budget int64, refusalsPerMinute, trustedProxies int) *Guard {
	return &Guard{
		bodies:         semaphore.NewWeighted(budget),
		budget:         budget,
		refusals:       ratelimit.New(refusalsPerMinute, max(refusalsPerMinute/3, 1)),
		trustedProxies: trustedProxies,
	}
}

// read authenticates a call and reads its body, capped at limit: headers
// first, then room in the budget, then the body, hashed as it streams.
// The body lives in a pooled buffer: call release once nothing refers to
// it any more (release is never nil).
func (g *Guard) read(w http.ResponseWriter, r *http.Request, limit int64, s Secrets) (body []byte, release func(), err error) {
	release = func() {}
	if g == nil {
		g = unguarded
	}
	addr := httpapi.ClientIP(r, g.trustedProxies)
	if g.refusals.Exhausted(addr) {
		return nil, release, bridge.RateLimited(time.Minute, "address keeps failing webhook authentication")
	}
	sig, err := s.VerifyHeaders(r.Header)
	if err != nil {
		g.refusals.Allow(addr)
		return nil, release, err
	}
	if r.ContentLength > limit {
		return nil, release, bridge.Errorf(bridge.CodeRequestTooLarge, "content length %d over %d", r.ContentLength, limit)
	}
	want := limit
	if r.ContentLength >= 0 {
		want = r.ContentLength
	}
	want = min(max(want, 1), g.budget)
	ctx, cancel := context.WithTimeout(r.Context(), bodyWait)
	defer cancel()
	if err := g.bodies.Acquire(ctx, want); err != nil {
		return nil, release, bridge.Wrap(bridge.CodeBusy, err, "waiting for room to read a webhook body")
	}
	g.inUse.Add(want)
	defer func() { g.inUse.Add(-want); g.bodies.Release(want) }()
	pool := g.pool(limit)
	buf := pool.Get().(*[]byte)
	release = func() { pool.Put(buf) }
	signed := sig.Body()
	body, err = httpapi.ReadBodyInto(w, r, limit, signed, *buf)
	if err == nil {
		err = signed.Verify()
		if err != nil {
			g.refusals.Allow(addr)
		}
	}
	if err != nil {
		release()
		return nil, func() {}, err
	}
	return body, release, nil
}

// InUse is how many bytes of the body budget calls being read hold now.
func (g *Guard) InUse() int64 { return g.inUse.Load() }

// pool is the buffer pool of bodies up to limit bytes.
func (g *Guard) pool(limit int64) *sync.Pool {
	if p, ok := g.buffers.Load(limit); ok {
		return p.(*sync.Pool)
	}
	p, _ := g.buffers.LoadOrStore(limit, &sync.Pool{New: func() any {
		b := make([]byte, limit)
		return &b
	}})
	return p.(*sync.Pool)
}

// unguarded is the guard of a handler built without one (tests): the
// default budget and no refusal limit.
var unguarded = NewGuard(DefaultBodyBudget, 0, 0)
