package descope

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dfbridge/dfbridge/internal/safe"
)

// KeySourceConfig tunes how Descope's signing keys are fetched and kept.
type KeySourceConfig struct {
	// BaseURL is Descope's API base, e.g. https://api.descope.com.
	BaseURL   string
	ProjectID string
	// HTTPClient is used for key fetches; FetchTimeout bounds each request
	// whatever its Timeout. The default follows no redirects: the key set
	// comes from the configured URL or not at all.
	HTTPClient *http.Client
	// FetchTimeout bounds one fetch. Zero means DefaultConfig's.
	FetchTimeout time.Duration
	// MaxBodyBytes caps a key-set response. Default 64 KiB.
	MaxBodyBytes int64
	// RefreshInterval is the background refresh period. Zero means
	// DefaultConfig's.
	RefreshInterval time.Duration
	// UnknownKIDCooldown is the least time between two fetches triggered by
	// tokens whose kid is not in the set. Zero means DefaultConfig's.
	UnknownKIDCooldown time.Duration
	// MaxStale is how long the last good key set keeps serving while
	// fetches fail. Zero means DefaultConfig's.
	MaxStale time.Duration
	Logger   *slog.Logger
	// Observe, when set, is told of every fetch and its outcome
	// ("ok", "error") and why it ran ("startup", "scheduled", "unknown_kid").
	Observe func(reason, outcome string)
}

func (c *KeySourceConfig) setDefaults() {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	d := DefaultConfig()
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = d.KeysFetchTimeout
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = d.KeysRefreshInterval
	}
	if c.UnknownKIDCooldown <= 0 {
		c.UnknownKIDCooldown = d.KeysUnknownKIDCooldown
	}
	if c.MaxStale <= 0 {
		c.MaxStale = d.KeysMaxStale
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// keySet is one successfully fetched key set. It is immutable once stored.
type keySet struct {
	keys      map[string]*rsa.PublicKey
	jwks      []byte // normalized JWKS handed to the SDK
	fetchedAt time.Time
}

// KeySource holds the project's current signing keys. Fetches are merged,
// rate limited for unknown kids, bounded in time and size, and a failed fetch
// never discards the last good set until it is older than MaxStale.
type KeySource struct {
	cfg KeySourceConfig
	url string
	now func() time.Time
	set atomic.Pointer[keySet]

	mu              sync.Mutex
	flight          *flight // the fetch in progress, if any
	lastUnknownPull time.Time
	lastErr         error
	onChange        func() // see OnChange
}

// flight is one fetch that any number of callers wait on. It is hand-rolled
// rather than singleflight because a caller must be able to join a fetch
// already running without ever starting one (see Key).
type flight struct {
	done chan struct{}
	err  error // set before done is closed
}

// ErrNoKeys means no usable key set has been loaded, or the last one is too old.
var ErrNoKeys = errors.New("no usable descope key set")

// NewKeySource returns a KeySource; call Refresh (or Run) to load keys.
func NewKeySource(cfg KeySourceConfig) *KeySource {
	cfg.setDefaults()
	return &KeySource{
		cfg: cfg,
		url: strings.TrimRight(cfg.BaseURL, "/") + "/v2/keys/" + cfg.ProjectID,
		now: time.Now,
	}
}

// Ready returns nil when a key set is loaded and fresh enough to serve.
func (k *KeySource) Ready() error {
	s := k.set.Load()
	if s == nil {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.lastErr != nil {
			return fmt.Errorf("%w: %w", ErrNoKeys, k.lastErr)
		}
		return ErrNoKeys
	}
	if age := k.now().Sub(s.fetchedAt); age > k.cfg.MaxStale {
		return fmt.Errorf("%w: last good set is %s old", ErrNoKeys, age.Round(time.Second))
	}
	return nil
}

// Key returns the public key for kid. A kid not in the set waits for a fetch
// already in flight (a rotation seen by many requests at once costs one
// fetch, and none of them is refused); if that fetch started too early to
// see the new key, or none was in flight, it starts one, at most one per
// UnknownKIDCooldown across all callers. A kid no Descope key could have
// (see validKID) never triggers a fetch.
func (k *KeySource) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if !validKID(kid) {
		return nil, errUnknownKID
	}
	if pk, ok, err := k.lookup(kid); ok || err != nil {
		return pk, err
	}
	// One bounded wait for everything below, joining a fetch in flight and
	// starting one of its own alike: a caller never waits more than one
	// FetchTimeout, however the fetches fall, so it is always answered
	// before the server's write timeout.
	ctx, cancel := context.WithTimeout(ctx, k.cfg.FetchTimeout)
	defer cancel()
	for range 2 {
		if pk, ok, err := k.lookup(kid); ok || err != nil {
			return pk, err
		}
		// Joining and claiming happen under one lock, so a caller never
		// sees no fetch in flight while another has claimed the cooldown
		// but not yet started its fetch.
		k.mu.Lock()
		f, own := k.flight, false
		if f == nil && k.claimUnknownPullLocked() {
			f, own = k.startLocked(ctx, "unknown_kid"), true
		}
		k.mu.Unlock()
		if f == nil {
			break
		}
		if err := k.wait(ctx, f); err != nil && ctx.Err() != nil {
			break // the caller is gone
		}
		if own {
			if pk, ok, err := k.lookup(kid); ok || err != nil {
				return pk, err
			}
			break
		}
	}
	if pk, ok, err := k.lookup(kid); ok || err != nil {
		return pk, err
	}
	if k.set.Load() == nil {
		return nil, k.Ready()
	}
	return nil, errUnknownKID
}

// lookup finds kid in the current set. err is set when the set is too old to
// trust.
func (k *KeySource) lookup(kid string) (pk *rsa.PublicKey, ok bool, err error) {
	s := k.set.Load()
	if s == nil {
		return nil, false, nil
	}
	if k.now().Sub(s.fetchedAt) > k.cfg.MaxStale {
		return nil, false, k.Ready()
	}
	pk, ok = s.keys[kid]
	return pk, ok, nil
}

var errUnknownKID = errors.New("kid not in the project's key set")

// claimUnknownPullLocked reports whether an unknown-kid fetch may run now,
// and if so starts the cooldown. k.mu must be held.
func (k *KeySource) claimUnknownPullLocked() bool {
	now := k.now()
	if !k.lastUnknownPull.IsZero() && now.Sub(k.lastUnknownPull) < k.cfg.UnknownKIDCooldown {
		return false
	}
	k.lastUnknownPull = now
	return true
}

// Refresh fetches the key set now, merging with any fetch already running.
func (k *KeySource) Refresh(ctx context.Context) error {
	return k.refresh(ctx, "startup")
}

// refresh starts a fetch, or joins the one in flight, and waits for it.
func (k *KeySource) refresh(ctx context.Context, reason string) error {
	k.mu.Lock()
	f := k.flight
	if f == nil {
		f = k.startLocked(ctx, reason)
	}
	k.mu.Unlock()
	return k.wait(ctx, f)
}

// startLocked starts a fetch. k.mu must be held and no fetch be in flight.
func (k *KeySource) startLocked(ctx context.Context, reason string) *flight {
	f := &flight{done: make(chan struct{})}
	k.flight = f
	// Detached from any one request: a cancelled caller must not cancel
	// the fetch other callers are waiting on.
	go k.fly(context.WithoutCancel(ctx), f, reason)
	return f
}

func (k *KeySource) wait(ctx context.Context, f *flight) error {
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fly runs one fetch, stores a good result, and releases its waiters.
func (k *KeySource) fly(ctx context.Context, f *flight, reason string) {
	ctx, cancel := context.WithTimeout(ctx, k.cfg.FetchTimeout)
	defer cancel()
	var s *keySet
	err := safe.Do("descope_keys", func() (err error) { s, err = k.fetch(ctx); return err })
	prev := k.set.Load()
	switch {
	case err != nil && prev == nil:
		k.observe(reason, "error")
		k.cfg.Logger.Warn("descope key fetch failed; no keys loaded yet, so exchanges are answered 503 until a fetch succeeds",
			"reason", reason, "error", err.Error())
	case err != nil:
		k.observe(reason, "error")
		k.cfg.Logger.Warn("descope key fetch failed; keeping last good keys",
			"reason", reason, "error", err.Error(), "keys_age", k.now().Sub(prev.fetchedAt).Round(time.Second).String())
	case prev == nil:
		k.observe(reason, "ok")
		k.cfg.Logger.Info("descope keys loaded", "reason", reason, "keys", len(s.keys))
	default:
		k.observe(reason, "ok")
		k.cfg.Logger.Debug("descope keys loaded", "reason", reason, "keys", len(s.keys))
	}
	// The new set and the end of the flight become visible together: a
	// caller that sees the set sees no flight, and one that joined the
	// flight sees the set once it is released.
	k.mu.Lock()
	if err == nil {
		k.set.Store(s)
	}
	k.lastErr = err
	k.flight = nil
	changed := k.onChange
	k.mu.Unlock()
	// Told after the new set is in place, so what the subscriber drops
	// (cached exchanges) cannot be refilled from the old keys, and before
	// the fetch's waiters go on.
	if err == nil && prev != nil && changed != nil && !bytes.Equal(prev.jwks, s.jwks) {
		changed()
	}
	f.err = err
	close(f.done)
}

// OnChange has f called after each fetch that brings a key set different
// from the one it replaces (a key added or removed at Descope); the first
// load is not a change. A later call replaces f.
func (k *KeySource) OnChange(f func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.onChange = f
}

func (k *KeySource) observe(reason, outcome string) {
	if k.cfg.Observe != nil {
		k.cfg.Observe(reason, outcome)
	}
}

// Run refreshes the key set every RefreshInterval until ctx ends. A key that
// Descope removed stops being accepted after the next refresh.
func (k *KeySource) Run(ctx context.Context) {
	t := time.NewTicker(k.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = k.refresh(ctx, "scheduled")
		}
	}
}

// JWKS returns the current key set as normalized JWKS JSON (RSA signing keys
// only, each with alg RS256), or nil when none is loaded.
func (k *KeySource) JWKS() []byte {
	if s := k.set.Load(); s != nil {
		return s.jwks
	}
	return nil
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func (k *KeySource) fetch(ctx context.Context) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("building key request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching descope keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching descope keys: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, k.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading descope keys: %w", err)
	}
	if int64(len(body)) > k.cfg.MaxBodyBytes {
		return nil, fmt.Errorf("descope key set exceeds %d bytes", k.cfg.MaxBodyBytes)
	}
	return parseKeySet(body, k.now())
}

// parseKeySet keeps the RSA signing keys of a JWKS document. A document with
// no usable key is an error, so an empty answer never replaces good keys.
func parseKeySet(body []byte, now time.Time) (*keySet, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decoding descope keys: %w", err)
	}
	s := &keySet{keys: map[string]*rsa.PublicKey{}, fetchedAt: now}
	var kept []jwk
	for _, j := range doc.Keys {
		if j.Kty != "RSA" || (j.Use != "" && j.Use != "sig") || (j.Alg != "" && j.Alg != "RS256") || !validKID(j.Kid) {
			continue
		}
		pk, err := rsaKey(j.N, j.E)
		if err != nil {
			continue
		}
		if _, dup := s.keys[j.Kid]; dup {
			continue
		}
		s.keys[j.Kid] = pk
		kept = append(kept, jwk{Kty: "RSA", Kid: j.Kid, Alg: "RS256", Use: "sig", N: j.N, E: j.E})
	}
	if len(kept) == 0 {
		return nil, errors.New("descope key set has no usable RS256 key")
	}
	jwks, err := json.Marshal(map[string][]jwk{"keys": kept})
	if err != nil {
		return nil, fmt.Errorf("encoding descope keys: %w", err)
	}
	s.jwks = jwks
	return s, nil
}

func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		return nil, err
	}
	eb, err := base64.RawURLEncoding.DecodeString(e)
	if err != nil {
		return nil, err
	}
	if len(nb) < 256 || len(nb) > 1024 || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("rsa key size out of range")
	}
	ei := new(big.Int).SetBytes(eb)
	if !ei.IsInt64() || ei.Int64() < 3 || ei.Int64()%2 == 0 {
		return nil, errors.New("bad rsa exponent")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(ei.Int64())}, nil
}

// validKID reports whether kid is one we would ever look up: short, and made
// of characters Descope's key IDs use. Anything else never triggers a fetch.
func validKID(kid string) bool {
	if kid == "" || len(kid) > 128 {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if !base64URLByte(kid[i]) {
			return false
		}
	}
	return true
}
