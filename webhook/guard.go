package webhook

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/ratelimit"
)

// DefaultBodyBudget is how many bytes of audit bodies are read at once:
// eight of the largest audit deliveries (Descope sends one at a time per
// connector).
const DefaultBodyBudget = 8 << 20

// DefaultConnectorBudget is the connector route's own budget: 32 of its
// largest calls. It is kept apart from the audit route's, so a flood of
// audit-shaped calls never delays a sign-in.
const DefaultConnectorBudget = 2 << 20

// bodyWait is the longest a call waits for room in the body budget before
// it is answered 503 busy (Descope retries).
const bodyWait = 2 * time.Second

// DefaultBodyDeadline is how long a webhook body may take to arrive once
// its room is reserved. Descope's deliveries are at most 1 MiB from a data
// centre: milliseconds. A sender slower than this is answered 408 and its
// address charged, so reserved room is never held for the server's whole
// 10 s read timeout.
const DefaultBodyDeadline = 3 * time.Second

// GuardConfig sizes a Guard.
type GuardConfig struct {
	// Budget is how many body bytes the route reads at once.
	Budget int64
	// Share is how many of those one address may hold at once when its
	// call is not proven by a header credential (one body, whatever its
	// size, always fits); 0: Budget/4.
	Share int64
	// BodyDeadline bounds the body's arrival; 0: DefaultBodyDeadline.
	BodyDeadline time.Duration
	// RefusalsPerMinute is how many failed calls an address may make a
	// minute before it is held to one body at a time (0: no limit).
	RefusalsPerMinute int
	// TrustedProxies says how the client address is found.
	TrustedProxies int
}

// Guard bounds what callers nobody has vouched for can cost one webhook
// route, so that no single address can keep Descope's own calls out:
//
//   - Every credential that needs no body (bearer, API key, Basic) is
//     checked before any room is reserved; a call with no credential of a
//     configured type is refused unread (Secrets.VerifyHeaders).
//   - The bodies being read share the route's budget of bytes, reserved
//     before reading (the declared length, or the route's limit for a
//     chunked body). Calls that only an HMAC signature over the body can
//     prove hold at most Share bytes per address at once: past it, 429.
//   - A body must arrive within BodyDeadline of its reservation; one that
//     does not (408), or ends short, or fails its signature, is charged to
//     its address.
//   - An address charged more than RefusalsPerMinute is not refused: it is
//     held to one body at a time, still read and authenticated, so a
//     correctly signed call from a shared address (Descope's egress, a load
//     balancer) always gets through once its turn comes.
//
// Each route has its own Guard.
type Guard struct {
	// buffers hold bodies being read, by route limit, so a flood of large
	// deliveries reuses memory rather than churning the collector.
	buffers  sync.Map // int64 → *sync.Pool
	bodies   *semaphore.Weighted
	cfg      GuardConfig
	inUse    atomic.Int64 // bytes of the budget reserved now
	refusals *ratelimit.Limiter

	mu     sync.Mutex
	byAddr map[string]*addrUse
}

// addrUse is what one address holds of the budget now.
type addrUse struct {
	bytes int64
	calls int
}

// NewGuard returns a guard sized by c.
func NewGuard(c GuardConfig) *Guard {
	if c.Share <= 0 {
		c.Share = c.Budget / 4
	}
	if c.BodyDeadline <= 0 {
		c.BodyDeadline = DefaultBodyDeadline
	}
	return &Guard{
		bodies:   semaphore.NewWeighted(c.Budget),
		cfg:      c,
		refusals: ratelimit.New(c.RefusalsPerMinute, max(c.RefusalsPerMinute/3, 1)),
		byAddr:   map[string]*addrUse{},
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
	addr := httpapi.ClientIP(r, g.cfg.TrustedProxies)
	// A call refused before its body is read is answered at once and its
	// connection closed: net/http would otherwise read what is left of a
	// small body before answering, for as long as the sender stalls.
	defer func() {
		if err != nil && body == nil && r.ContentLength != 0 {
			w.Header().Set("Connection", "close")
		}
	}()
	sig, err := s.VerifyHeaders(r.Header)
	if err != nil {
		g.charge(addr)
		return nil, release, err
	}
	if r.ContentLength > limit {
		return nil, release, bridge.Errorf(bridge.CodeRequestTooLarge, "content length %d over %d", r.ContentLength, limit)
	}
	want := limit
	if r.ContentLength >= 0 {
		want = r.ContentLength
	}
	want = min(max(want, 1), g.cfg.Budget)
	// A call proven by a header credential is Descope's: it is not held to
	// an address's share.
	proven := s.headerCredentials()
	if !proven {
		if err := g.takeShare(addr, want); err != nil {
			g.charge(addr)
			return nil, release, err
		}
		defer g.giveShare(addr, want)
	}
	ctx, cancel := context.WithTimeout(r.Context(), bodyWait)
	defer cancel()
	if err := g.bodies.Acquire(ctx, want); err != nil {
		return nil, release, bridge.Wrap(bridge.CodeBusy, err, "waiting for room to read a webhook body")
	}
	g.inUse.Add(want)
	defer func() { g.inUse.Add(-want); g.bodies.Release(want) }()
	if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(g.cfg.BodyDeadline)); err != nil &&
		!errors.Is(err, http.ErrNotSupported) {
		return nil, release, bridge.Wrap(bridge.CodeBadRequest, err, "setting the body deadline")
	}
	pool := g.pool(limit)
	buf := pool.Get().(*[]byte)
	release = func() { pool.Put(buf) }
	signed := sig.Body()
	body, err = httpapi.ReadBodyInto(w, r, limit, signed, *buf)
	if err == nil {
		err = signed.Verify()
	}
	if err != nil {
		// A forged signature, a body that timed out, ended short or broke
		// its framing: each costs the address.
		if bridge.CodeOf(err) != bridge.CodeRequestTooLarge {
			g.charge(addr)
		}
		release()
		return nil, func() {}, err
	}
	return body, release, nil
}

// charge counts a failed call against addr.
func (g *Guard) charge(addr string) { g.refusals.Allow(addr) }

// takeShare reserves want bytes of addr's share, or says why not: the
// address holds its share, or, charged past its refusals, already reads
// a body.
func (g *Guard) takeShare(addr string, want int64) error {
	exhausted := g.refusals.Exhausted(addr)
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.byAddr[addr]
	if u == nil {
		u = &addrUse{}
		g.byAddr[addr] = u
	}
	switch {
	case u.calls == 0 && want <= g.cfg.Budget:
		// An address may always have one body read, whatever its share.
	case exhausted:
		return bridge.RateLimited(time.Second, "address keeps failing webhook calls and already has one being read")
	case u.bytes+want > g.cfg.Share:
		return bridge.RateLimited(time.Second, "address holds its share of the webhook body budget")
	}
	u.bytes += want
	u.calls++
	return nil
}

func (g *Guard) giveShare(addr string, want int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.byAddr[addr]
	u.bytes -= want
	u.calls--
	if u.calls == 0 {
		delete(g.byAddr, addr)
	}
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
// default budget, every address's share the whole of it, no refusal limit.
var unguarded = NewGuard(GuardConfig{Budget: DefaultBodyBudget, Share: DefaultBodyBudget})
