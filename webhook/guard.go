package webhook

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/ratelimit"
)

// DefaultBodyBudget is how many bytes of webhook bodies are read at once,
// across both routes: sixteen of the largest audit deliveries.
const DefaultBodyBudget = 16 << 20

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
	bodies         *semaphore.Weighted
	budget         int64
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
func (g *Guard) read(w http.ResponseWriter, r *http.Request, limit int64, s Secrets) ([]byte, error) {
	if g == nil {
		g = unguarded
	}
	addr := httpapi.ClientIP(r, g.trustedProxies)
	if g.refusals.Exhausted(addr) {
		return nil, bridge.RateLimited(time.Minute, "address keeps failing webhook authentication")
	}
	sig, err := s.VerifyHeaders(r.Header)
	if err != nil {
		g.refusals.Allow(addr)
		return nil, err
	}
	if r.ContentLength > limit {
		return nil, bridge.Errorf(bridge.CodeRequestTooLarge, "content length %d over %d", r.ContentLength, limit)
	}
	want := limit
	if r.ContentLength >= 0 {
		want = r.ContentLength
	}
	want = min(max(want, 1), g.budget)
	ctx, cancel := context.WithTimeout(r.Context(), bodyWait)
	defer cancel()
	if err := g.bodies.Acquire(ctx, want); err != nil {
		return nil, bridge.Wrap(bridge.CodeBusy, err, "waiting for room to read a webhook body")
	}
	defer g.bodies.Release(want)
	signed := sig.Body()
	body, err := httpapi.ReadBodyTee(w, r, limit, signed)
	if err != nil {
		return nil, err
	}
	if err := signed.Verify(); err != nil {
		g.refusals.Allow(addr)
		return nil, err
	}
	return body, nil
}

// unguarded is the guard of a handler built without one (tests): the
// default budget and no refusal limit.
var unguarded = NewGuard(DefaultBodyBudget, 0, 0)
