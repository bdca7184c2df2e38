package flow

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dfbridge/dfbridge/bridge"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// CacheConfig tunes an ExchangeCache.
type CacheConfig struct {
	// Size is the most sessions remembered; the least recently used go
	// first. It must be positive.
	Size int
	// TTL is the longest an entry serves after its token was minted. It must
	// be well inside the custom token's hour, so a repeat never hands out a
	// token about to expire.
	TTL time.Duration
	// Observe, when set, is told of every look-up: "hit" (served without a
	// new signature, from memory or by joining the same session's exchange
	// in flight) or "miss".
	Observe func(result string)
}

// MaxCacheTTL bounds CacheConfig.TTL: a cached custom token has at least 45
// of its 60 minutes left when it is served.
const MaxCacheTTL = 15 * time.Minute

// inFlightTimeout bounds an exchange that callers share. It runs detached
// from the first caller's cancellation, so a client that gave up and retries
// finds the finished result instead of starting over.
const inFlightTimeout = 15 * time.Second

// ExchangeCache serves repeated exchanges of the same session (client
// retries, app restarts, React strict mode's double effects) without a new
// RSA signature each time. Entries are keyed on the SHA-256 of the session
// token, never the token, so two different tokens never share an entry and
// memory holds nothing that could be replayed to the bridge. An entry serves
// no longer than the session's own exp, nor longer than TTL after minting.
// Concurrent exchanges of one session are merged into one. Refusals and
// failures are never cached.
type ExchangeCache struct {
	next    bridge.Exchanger
	ttl     time.Duration
	observe func(string)
	now     func() time.Time

	entries *lru.Cache[[sha256.Size]byte, cacheEntry]
	group   singleflight.Group
	// generation moves on every Invalidate; an exchange that was in flight
	// across one is not cached, so a lifecycle event can never be undone by
	// an exchange that verified the session just before it.
	generation atomic.Uint64
}

type cacheEntry struct {
	res bridge.Result
	// user is the session's Descope user (dsub, else sub), which lifecycle
	// events name; res.UID is the Firebase UID it mapped to.
	user       string
	validUntil time.Time
}

var _ bridge.Exchanger = (*ExchangeCache)(nil)

// NewExchangeCache wraps next with a cache.
func NewExchangeCache(next bridge.Exchanger, cfg CacheConfig) (*ExchangeCache, error) {
	if cfg.Size <= 0 {
		return nil, errors.New("exchange cache size must be positive")
	}
	if cfg.TTL <= 0 || cfg.TTL > MaxCacheTTL {
		return nil, errors.New("exchange cache ttl must be positive and at most 15m")
	}
	entries, err := lru.New[[sha256.Size]byte, cacheEntry](cfg.Size)
	if err != nil {
		return nil, err
	}
	observe := cfg.Observe
	if observe == nil {
		observe = func(string) {}
	}
	return &ExchangeCache{next: next, ttl: cfg.TTL, observe: observe, now: time.Now, entries: entries}, nil
}

// Exchange returns the cached result for token while it is valid, and
// otherwise exchanges token through the wrapped exchanger.
func (c *ExchangeCache) Exchange(ctx context.Context, token string) (*bridge.Result, error) {
	if token == "" {
		return c.next.Exchange(ctx, token)
	}
	key := sha256.Sum256([]byte(token))
	if e, ok := c.entries.Get(key); ok {
		if c.now().Before(e.validUntil) {
			c.observe("hit")
			res := e.res
			return &res, nil
		}
		c.entries.Remove(key)
	}

	led := false
	ch := c.group.DoChan(string(key[:]), func() (any, error) {
		led = true
		gen := c.generation.Load()
		xctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), inFlightTimeout)
		defer cancel()
		res, err := c.next.Exchange(xctx, token)
		if err != nil {
			return nil, err
		}
		c.store(key, token, res, gen)
		return res, nil
	})
	select {
	case r := <-ch:
		if led {
			c.observe("miss")
		} else {
			c.observe("hit")
		}
		if r.Err != nil {
			return nil, r.Err
		}
		res := *r.Val.(*bridge.Result)
		return &res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// store remembers res until the earliest of the session's exp, TTL from now,
// and the custom token's own expiry.
func (c *ExchangeCache) store(key [sha256.Size]byte, token string, res *bridge.Result, gen uint64) {
	// The wrapped exchanger has just verified token, so its claims are
	// authentic; a token whose exp cannot be read is not cached.
	exp, user, ok := sessionClaims(token)
	if !ok {
		return
	}
	until := c.now().Add(c.ttl)
	if exp.Before(until) {
		until = exp
	}
	if !res.ExpiresAt.IsZero() && res.ExpiresAt.Before(until) {
		until = res.ExpiresAt
	}
	if !c.now().Before(until) || c.generation.Load() != gen {
		return
	}
	c.entries.Add(key, cacheEntry{res: *res, user: user, validUntil: until})
}

// Invalidate drops every cached exchange of a user, named by the Firebase
// UID or by the Descope user ID (lifecycle events know the latter; a mapping
// may make them differ), so the event takes effect on the next exchange. A
// nil cache (caching disabled) has nothing to drop.
func (c *ExchangeCache) Invalidate(user string) {
	if c == nil {
		return
	}
	c.generation.Add(1)
	for _, k := range c.entries.Keys() {
		if e, ok := c.entries.Peek(k); ok && (e.res.UID == user || e.user == user) {
			c.entries.Remove(k)
		}
	}
}

// Purge drops every cached exchange. The service calls it when Descope's
// key set changes, so a session signed by a key Descope removed stops being
// served from memory as soon as it stops being verified. A nil cache has
// nothing to drop.
func (c *ExchangeCache) Purge() {
	if c == nil {
		return
	}
	c.generation.Add(1)
	c.entries.Purge()
}

// Len is the number of cached exchanges, expired ones included until they
// are looked up or evicted.
func (c *ExchangeCache) Len() int { return c.entries.Len() }

// sessionClaims reads a JWT's exp and its Descope user (dsub, else sub)
// without verifying it.
func sessionClaims(token string) (exp time.Time, user string, ok bool) {
	_, rest, ok := strings.Cut(token, ".")
	if !ok {
		return time.Time{}, "", false
	}
	payload, _, ok := strings.Cut(rest, ".")
	if !ok {
		return time.Time{}, "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return time.Time{}, "", false
	}
	var claims struct {
		Exp  int64  `json:"exp"`
		Sub  string `json:"sub"`
		DSub string `json:"dsub"`
	}
	if err := json.Unmarshal(b, &claims); err != nil || claims.Exp <= 0 {
		return time.Time{}, "", false
	}
	user = claims.DSub
	if user == "" {
		user = claims.Sub
	}
	return time.Unix(claims.Exp, 0), user, true
}

// ExchangeSession passes a session already verified (the connector's) to
// the wrapped exchanger: Descope's calls carry no token to key an entry on.
func (c *ExchangeCache) ExchangeSession(ctx context.Context, s *bridge.Session) (*bridge.Result, error) {
	return c.next.ExchangeSession(ctx, s)
}
