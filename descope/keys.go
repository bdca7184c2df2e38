package descope

import (
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

	"golang.org/x/sync/singleflight"
)

// KeySourceConfig tunes how Descope's signing keys are fetched and kept.
type KeySourceConfig struct {
	// BaseURL is Descope's API base, e.g. https://api.descope.com.
	BaseURL   string
	ProjectID string
	// HTTPClient is used for key fetches; its Timeout is overridden by
	// FetchTimeout per request.
	HTTPClient *http.Client
	// FetchTimeout bounds one fetch. Default 5s.
	FetchTimeout time.Duration
	// MaxBodyBytes caps a key-set response. Default 64 KiB.
	MaxBodyBytes int64
	// RefreshInterval is the background refresh period. Default 10m.
	RefreshInterval time.Duration
	// UnknownKIDCooldown is the least time between two fetches triggered by
	// tokens whose kid is not in the set. Default 30s.
	UnknownKIDCooldown time.Duration
	// MaxStale is how long the last good key set keeps serving while
	// fetches fail. Default 24h.
	MaxStale time.Duration
	Logger   *slog.Logger
	// Observe, when set, is told of every fetch and its outcome
	// ("ok", "error") and why it ran ("startup", "scheduled", "unknown_kid").
	Observe func(reason, outcome string)
}

func (c *KeySourceConfig) setDefaults() {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = 5 * time.Second
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = 10 * time.Minute
	}
	if c.UnknownKIDCooldown <= 0 {
		c.UnknownKIDCooldown = 30 * time.Second
	}
	if c.MaxStale <= 0 {
		c.MaxStale = 24 * time.Hour
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
	cfg   KeySourceConfig
	url   string
	now   func() time.Time
	set   atomic.Pointer[keySet]
	group singleflight.Group

	mu              sync.Mutex
	lastUnknownPull time.Time
	lastErr         error
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
			return fmt.Errorf("%w: %v", ErrNoKeys, k.lastErr)
		}
		return ErrNoKeys
	}
	if age := k.now().Sub(s.fetchedAt); age > k.cfg.MaxStale {
		return fmt.Errorf("%w: last good set is %s old", ErrNoKeys, age.Round(time.Second))
	}
	return nil
}

// Key returns the public key for kid. An unknown kid triggers at most one
// fetch per UnknownKIDCooldown across all callers; concurrent callers share it.
func (k *KeySource) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if s := k.set.Load(); s != nil {
		if k.now().Sub(s.fetchedAt) > k.cfg.MaxStale {
			return nil, k.Ready()
		}
		if pk, ok := s.keys[kid]; ok {
			return pk, nil
		}
	}
	if !k.claimUnknownPull() {
		if k.set.Load() == nil {
			return nil, k.Ready()
		}
		return nil, errUnknownKID
	}
	_ = k.refresh(ctx, "unknown_kid")
	s := k.set.Load()
	if s == nil {
		return nil, k.Ready()
	}
	if pk, ok := s.keys[kid]; ok {
		return pk, nil
	}
	return nil, errUnknownKID
}

var errUnknownKID = errors.New("kid not in the project's key set")

// claimUnknownPull reports whether an unknown-kid fetch may run now.
func (k *KeySource) claimUnknownPull() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
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

func (k *KeySource) refresh(ctx context.Context, reason string) error {
	ch := k.group.DoChan("keys", func() (any, error) {
		// Detached from any one request: a cancelled caller must not
		// cancel the fetch other callers are waiting on.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.FetchTimeout)
		defer cancel()
		s, err := k.fetch(fctx)
		k.mu.Lock()
		k.lastErr = err
		k.mu.Unlock()
		if err != nil {
			k.observe(reason, "error")
			k.cfg.Logger.Warn("descope key fetch failed; keeping last good keys",
				"reason", reason, "error", err.Error())
			return nil, err
		}
		k.set.Store(s)
		k.observe(reason, "ok")
		k.cfg.Logger.Debug("descope keys loaded", "reason", reason, "keys", len(s.keys))
		return nil, nil
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
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
		c := kid[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
