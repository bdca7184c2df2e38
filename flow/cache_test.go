package flow

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dfbridge/dfbridge/bridge"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sessionJWT is a JWT-shaped session for uid expiring at exp. The cache
// never verifies tokens (the exchanger it wraps does), so it is unsigned.
func sessionJWT(t *testing.T, uid string, iat, exp time.Time) string {
	t.Helper()
	claims, err := json.Marshal(map[string]any{"sub": uid, "iat": iat.Unix(), "exp": exp.Unix(), "drn": "DS"})
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"K1"}`)) + "." + enc(claims) + ".c2ln"
}

// countingExchanger is an in-memory exchanger: each call mints a new,
// numbered custom token for the token's sub, or fails with err. When gate
// is set, calls wait on it.
type countingExchanger struct {
	mu    sync.Mutex
	calls int
	err   error
	gate  chan struct{}
}

func (x *countingExchanger) Exchange(_ context.Context, token string) (*bridge.Result, error) {
	if x.gate != nil {
		<-x.gate
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.calls++
	if x.err != nil {
		return nil, x.err
	}
	return &bridge.Result{
		Token:     fmt.Sprintf("custom-%d", x.calls),
		UID:       subOf(token),
		ExpiresAt: time.Now().Add(time.Hour),
	}, nil
}

// ExchangeSession counts as an exchange of the session's user.
func (x *countingExchanger) ExchangeSession(ctx context.Context, s *bridge.Session) (*bridge.Result, error) {
	return x.Exchange(ctx, s.UserID)
}

func (x *countingExchanger) count() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.calls
}

// subOf reads the user a test session names.
func subOf(token string) string {
	var c struct {
		Sub string `json:"sub"`
	}
	b, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	_ = json.Unmarshal(b, &c)
	return c.Sub
}

// lookups tallies what the cache observed.
type lookups struct {
	mu     sync.Mutex
	counts map[string]int
}

func (l *lookups) observe(result string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = map[string]int{}
	}
	l.counts[result]++
}

func (l *lookups) get(result string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[result]
}

func newCache(t *testing.T, next bridge.Exchanger, size int, ttl time.Duration, l *lookups) *ExchangeCache {
	t.Helper()
	cfg := CacheConfig{Size: size, TTL: ttl}
	if l != nil {
		cfg.Observe = l.observe
	}
	c, err := NewExchangeCache(next, cfg)
	require.NoError(t, err)
	return c
}

func TestExchangeCacheServesRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Now()
		inner := &countingExchanger{}
		var l lookups
		c := newCache(t, inner, 16, 5*time.Minute, &l)
		tok := sessionJWT(t, "U1", now, now.Add(10*time.Minute))

		first, err := c.Exchange(ctx, tok)
		require.NoError(t, err)
		second, err := c.Exchange(ctx, tok)
		require.NoError(t, err)

		assert.Equal(t, 1, inner.count(), "a repeat must not exchange again")
		assert.Equal(t, first, second, "a repeat returns the same custom token")
		assert.Equal(t, 1, l.get("miss"))
		assert.Equal(t, 1, l.get("hit"))

		second.Token = "changed by a caller"
		third, err := c.Exchange(ctx, tok)
		require.NoError(t, err)
		assert.Equal(t, first.Token, third.Token, "a caller's change to its result never reaches the cache")
	})
}

func TestExchangeCacheNeverSharesAnEntryBetweenTokens(t *testing.T) {
	now := time.Now()
	same := sessionJWT(t, "U1", now, now.Add(10*time.Minute))
	cases := map[string]string{
		"a session of the same user issued a second later": sessionJWT(t, "U1", now.Add(time.Second), now.Add(10*time.Minute)),
		"the same session with a different signature":      same[:len(same)-1] + "x",
		"a session of another user":                        sessionJWT(t, "U2", now, now.Add(10*time.Minute)),
	}
	for name, other := range cases {
		t.Run(name+" is exchanged anew", func(t *testing.T) {
			ctx := context.Background()
			inner := &countingExchanger{}
			c := newCache(t, inner, 16, 5*time.Minute, nil)
			base, err := c.Exchange(ctx, same)
			require.NoError(t, err)
			res, err := c.Exchange(ctx, other)
			require.NoError(t, err)
			assert.Equal(t, 2, inner.count())
			assert.NotEqual(t, base.Token, res.Token)
		})
	}
}

func TestExchangeCacheExpiry(t *testing.T) {
	cases := []struct {
		name       string
		sessionTTL time.Duration
		cacheTTL   time.Duration
		// still is a wait after which the entry still serves; gone one
		// after which it does not.
		still, gone time.Duration
	}{
		{"an entry does not outlive the session's exp", 30 * time.Second, 5 * time.Minute, 29 * time.Second, 31 * time.Second},
		{"an entry does not outlive the cache TTL", time.Hour, time.Minute, 59 * time.Second, 61 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				now := time.Now()
				inner := &countingExchanger{}
				c := newCache(t, inner, 16, tc.cacheTTL, nil)
				tok := sessionJWT(t, "U1", now, now.Add(tc.sessionTTL))

				_, err := c.Exchange(ctx, tok)
				require.NoError(t, err)
				time.Sleep(tc.still)
				_, err = c.Exchange(ctx, tok)
				require.NoError(t, err)
				assert.Equal(t, 1, inner.count(), "served from the cache before it expires")

				time.Sleep(tc.gone - tc.still)
				_, err = c.Exchange(ctx, tok)
				require.NoError(t, err)
				assert.Equal(t, 2, inner.count(), "exchanged anew once the entry expired")
			})
		})
	}
}

func TestExchangeCacheDoesNotCacheAnExpiredSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Now()
		inner := &countingExchanger{}
		c := newCache(t, inner, 16, 5*time.Minute, nil)
		// The wrapped exchanger allows clock-skew leeway; the cache does not.
		tok := sessionJWT(t, "U1", now.Add(-time.Minute), now.Add(-time.Second))
		for range 2 {
			_, err := c.Exchange(ctx, tok)
			require.NoError(t, err)
		}
		assert.Equal(t, 2, inner.count())
		assert.Equal(t, 0, c.Len())
	})
}

func TestExchangeCacheIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Now()
		inner := &countingExchanger{}
		c := newCache(t, inner, 2, 5*time.Minute, nil)
		toks := []string{
			sessionJWT(t, "U1", now, now.Add(10*time.Minute)),
			sessionJWT(t, "U2", now, now.Add(10*time.Minute)),
			sessionJWT(t, "U3", now, now.Add(10*time.Minute)),
		}
		for _, tok := range toks {
			_, err := c.Exchange(ctx, tok)
			require.NoError(t, err)
		}
		assert.Equal(t, 2, c.Len(), "the cache holds no more than its size")

		_, err := c.Exchange(ctx, toks[2])
		require.NoError(t, err)
		assert.Equal(t, 3, inner.count(), "the newest entry is still cached")
		_, err = c.Exchange(ctx, toks[0])
		require.NoError(t, err)
		assert.Equal(t, 4, inner.count(), "the least recently used entry was evicted")
	})
}

func TestExchangeCacheInvalidate(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	inner := &countingExchanger{}
	c := newCache(t, inner, 16, 5*time.Minute, nil)
	u1a := sessionJWT(t, "U1", now, now.Add(10*time.Minute))
	u1b := sessionJWT(t, "U1", now.Add(time.Second), now.Add(10*time.Minute))
	u2 := sessionJWT(t, "U2", now, now.Add(10*time.Minute))
	for _, tok := range []string{u1a, u1b, u2} {
		_, err := c.Exchange(ctx, tok)
		require.NoError(t, err)
	}
	require.Equal(t, 3, inner.count())

	c.Invalidate("U1")

	t.Run("every session of the invalidated user is exchanged anew", func(t *testing.T) {
		for _, tok := range []string{u1a, u1b} {
			_, err := c.Exchange(ctx, tok)
			require.NoError(t, err)
		}
		assert.Equal(t, 5, inner.count())
	})
	t.Run("another user's entry stays", func(t *testing.T) {
		_, err := c.Exchange(ctx, u2)
		require.NoError(t, err)
		assert.Equal(t, 5, inner.count())
	})
}

func TestExchangeCacheInvalidateByDescopeUserID(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	// A mapping that makes the Firebase UID differ from the Descope user.
	inner := &mappedExchanger{countingExchanger: &countingExchanger{}, prefix: "fb-"}
	c := newCache(t, inner, 16, 5*time.Minute, nil)
	tok := sessionJWT(t, "U1", now, now.Add(10*time.Minute))
	res, err := c.Exchange(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, "fb-U1", res.UID)

	cases := []struct{ name, user string }{
		{"the Descope user ID a lifecycle event names", "U1"},
		{"the Firebase UID it mapped to", "fb-U1"},
	}
	for _, tc := range cases {
		t.Run("invalidating by "+tc.name+" drops the entry", func(t *testing.T) {
			_, err := c.Exchange(ctx, tok)
			require.NoError(t, err)
			before := inner.count()
			c.Invalidate(tc.user)
			_, err = c.Exchange(ctx, tok)
			require.NoError(t, err)
			assert.Equal(t, before+1, inner.count())
		})
	}
}

// mappedExchanger maps the session's user to prefix+user.
type mappedExchanger struct {
	*countingExchanger
	prefix string
}

func (x *mappedExchanger) Exchange(ctx context.Context, token string) (*bridge.Result, error) {
	res, err := x.countingExchanger.Exchange(ctx, token)
	if err == nil {
		res.UID = x.prefix + res.UID
	}
	return res, err
}

func TestExchangeCachePurge(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	inner := &countingExchanger{}
	c := newCache(t, inner, 16, 5*time.Minute, nil)
	tok := sessionJWT(t, "U1", now, now.Add(10*time.Minute))
	_, err := c.Exchange(ctx, tok)
	require.NoError(t, err)

	c.Purge()

	assert.Equal(t, 0, c.Len())
	_, err = c.Exchange(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, 2, inner.count(), "after a purge every session is exchanged anew")
	var off *ExchangeCache
	assert.NotPanics(t, off.Purge, "a disabled cache has nothing to purge")
}

func TestExchangeCacheInvalidateDuringAnExchange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Now()
		inner := &countingExchanger{gate: make(chan struct{})}
		c := newCache(t, inner, 16, 5*time.Minute, nil)
		tok := sessionJWT(t, "U1", now, now.Add(10*time.Minute))

		done := make(chan error)
		go func() {
			_, err := c.Exchange(ctx, tok)
			done <- err
		}()
		synctest.Wait() // the exchange has verified and is minting
		c.Invalidate("U1")
		close(inner.gate)
		require.NoError(t, <-done)

		_, err := c.Exchange(ctx, tok)
		require.NoError(t, err)
		assert.Equal(t, 2, inner.count(), "a result minted across an invalidation is not cached")
	})
}

func TestExchangeCacheMergesConcurrentExchangesOfOneSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Now()
		inner := &countingExchanger{gate: make(chan struct{})}
		var l lookups
		c := newCache(t, inner, 16, 5*time.Minute, &l)
		tok := sessionJWT(t, "U1", now, now.Add(10*time.Minute))

		const callers = 5
		results := make(chan *bridge.Result, callers)
		for range callers {
			go func() {
				res, err := c.Exchange(ctx, tok)
				assert.NoError(t, err)
				results <- res
			}()
		}
		synctest.Wait() // every caller is waiting on the one exchange
		close(inner.gate)
		var tokens []string
		for range callers {
			tokens = append(tokens, (<-results).Token)
		}
		assert.Equal(t, 1, inner.count(), "one signature serves every concurrent caller")
		assert.Equal(t, []string{"custom-1", "custom-1", "custom-1", "custom-1", "custom-1"}, tokens)
		assert.Equal(t, 1, l.get("miss"))
		assert.Equal(t, callers-1, l.get("hit"))
	})
}

func TestExchangeCacheDoesNotCacheRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Now()
		refusal := bridge.Errorf(bridge.CodeKeysUnavailable, "keys not loaded")
		inner := &countingExchanger{err: refusal}
		c := newCache(t, inner, 16, 5*time.Minute, nil)
		tok := sessionJWT(t, "U1", now, now.Add(10*time.Minute))
		for range 2 {
			_, err := c.Exchange(ctx, tok)
			assert.Equal(t, bridge.CodeKeysUnavailable, bridge.CodeOf(err))
		}
		assert.Equal(t, 2, inner.count())
		assert.Equal(t, 0, c.Len())
	})
}

func TestExchangeCacheCallerThatGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		inner := &countingExchanger{gate: make(chan struct{})}
		c := newCache(t, inner, 16, 5*time.Minute, nil)
		tok := sessionJWT(t, "U1", now, now.Add(10*time.Minute))

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := c.Exchange(ctx, tok)
			done <- err
		}()
		synctest.Wait()
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled, "the caller gets its own cancellation")

		close(inner.gate)
		synctest.Wait()
		_, err := c.Exchange(context.Background(), tok)
		require.NoError(t, err)
		assert.Equal(t, 1, inner.count(), "the retry finds the exchange the first caller started")
	})
}

func TestNewExchangeCacheRefusesBadConfig(t *testing.T) {
	cases := map[string]CacheConfig{
		"a size of zero":                    {Size: 0, TTL: time.Minute},
		"a TTL of zero":                     {Size: 1, TTL: 0},
		"a TTL beyond a quarter of an hour": {Size: 1, TTL: 16 * time.Minute},
	}
	for name, cfg := range cases {
		t.Run(name+" is refused", func(t *testing.T) {
			_, err := NewExchangeCache(&countingExchanger{}, cfg)
			assert.Error(t, err)
		})
	}
}

func TestInvalidateOnADisabledCacheIsANoOp(t *testing.T) {
	var c *ExchangeCache
	assert.NotPanics(t, func() { c.Invalidate("U1") })
}
