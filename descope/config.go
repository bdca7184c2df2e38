package descope

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/internal/secretcheck"
)

// Config is the Descope part of the service's configuration: which
// project's sessions are accepted, how its keys are kept, and what the
// project's JWT template puts in a session. Variable names are Descope's
// own where it has them. DefaultConfig holds every default.
type Config struct {
	// ProjectID is the Descope project whose sessions are accepted.
	ProjectID string `envconfig:"DESCOPE_PROJECT_ID" required:"true"`
	// BaseURL is Descope's API; point it at the local stand-in in dev.
	BaseURL string `envconfig:"DESCOPE_BASE_URL"`
	// ManagementKey enables management-API look-ups (migration by email,
	// lifecycle sync, the connector's role table). Optional.
	ManagementKey string `envconfig:"DESCOPE_MANAGEMENT_KEY"`
	// AuthSchema is the authorization schema of the project's JWT
	// template, in Descope's names: default, tenantOnly or none.
	AuthSchema AuthSchema `envconfig:"DESCOPE_JWT_AUTH_SCHEMA"`
	// ResolvePermissions resolves each session's permissions from
	// Descope's role table on /exchange, for JWT templates that exclude
	// permissions (the connector route always does). Needs ManagementKey.
	ResolvePermissions bool `envconfig:"DESCOPE_RESOLVE_PERMISSIONS"`
	// KeysRefreshInterval is how often Descope's key set is refreshed.
	KeysRefreshInterval time.Duration `envconfig:"DESCOPE_KEYS_REFRESH_INTERVAL"`
	// KeysUnknownKIDCooldown is the least time between fetches caused by
	// tokens with an unknown kid.
	KeysUnknownKIDCooldown time.Duration `envconfig:"DESCOPE_KEYS_UNKNOWN_KID_COOLDOWN"`
	// KeysMaxStale is how long the last good key set serves while
	// Descope's key endpoint fails.
	KeysMaxStale time.Duration `envconfig:"DESCOPE_KEYS_MAX_STALE"`
	// KeysFetchTimeout bounds one fetch of Descope's key set, so a hanging
	// key endpoint cannot hold up the requests waiting on it.
	KeysFetchTimeout time.Duration `envconfig:"DESCOPE_KEYS_FETCH_TIMEOUT"`
	// TokenLeeway allows clock skew on exp/nbf/iat (at most 5s, the SDK's
	// own).
	TokenLeeway time.Duration `envconfig:"TOKEN_LEEWAY"`
	// AllowedAudiences, when set, refuses a token whose aud names none of
	// them: Descope OIDC access tokens issued to another application of
	// the project.
	AllowedAudiences []string `envconfig:"DESCOPE_ALLOWED_AUDIENCES"`
}

// MaxKeysFetchTimeout leaves an exchange that waited a whole key fetch 5s
// to verify, map and sign (a keyless signBlob included) inside the
// server's 15s write timeout.
const MaxKeysFetchTimeout = 10 * time.Second

// DefaultConfig is the configuration with nothing set: the one place each
// Descope default is written.
func DefaultConfig() Config {
	return Config{
		BaseURL:                "https://api.descope.com",
		AuthSchema:             SchemaDefault,
		KeysRefreshInterval:    10 * time.Minute,
		KeysUnknownKIDCooldown: 30 * time.Second,
		KeysMaxStale:           24 * time.Hour,
		KeysFetchTimeout:       5 * time.Second,
		TokenLeeway:            5 * time.Second,
	}
}

// Validate checks the settings, each error one line naming the variable
// and the fix.
func (c *Config) Validate() error {
	if !validProjectID(c.ProjectID) {
		return errors.New("DESCOPE_PROJECT_ID is not a Descope project ID (letters and digits, e.g. P2abc...)")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("DESCOPE_BASE_URL must be an http(s) URL such as https://api.descope.com")
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return errors.New("DESCOPE_BASE_URL must use https unless it points at localhost")
	}
	if _, err := ParseAuthSchema(string(c.AuthSchema)); err != nil {
		return fmt.Errorf("DESCOPE_JWT_AUTH_SCHEMA=%q; use default, tenantOnly or none (the JWT template's authorization schema)", bridge.Truncate(string(c.AuthSchema), 40))
	}
	if secretcheck.Placeholder(c.ManagementKey) {
		return errors.New("DESCOPE_MANAGEMENT_KEY is the example's placeholder; create a management key (Descope console → Company → Management keys)")
	}
	if c.ResolvePermissions && c.ManagementKey == "" {
		return errors.New("DESCOPE_RESOLVE_PERMISSIONS reads Descope's role table and needs DESCOPE_MANAGEMENT_KEY (a management key from the Descope console)")
	}
	return c.validateKeys()
}

// validateKeys checks how the key set is kept, and the leeway.
func (c *Config) validateKeys() error {
	switch {
	case c.KeysRefreshInterval < 10*time.Second:
		return errors.New("DESCOPE_KEYS_REFRESH_INTERVAL must be at least 10s")
	case c.KeysUnknownKIDCooldown < time.Second:
		return errors.New("DESCOPE_KEYS_UNKNOWN_KID_COOLDOWN must be at least 1s")
	case c.KeysMaxStale < c.KeysRefreshInterval:
		return errors.New("DESCOPE_KEYS_MAX_STALE must be at least DESCOPE_KEYS_REFRESH_INTERVAL")
	// A request waits at most one fetch timeout for keys, and must still be
	// answered, signature included, within the server's write timeout.
	case c.KeysFetchTimeout < 100*time.Millisecond || c.KeysFetchTimeout > MaxKeysFetchTimeout:
		return fmt.Errorf("DESCOPE_KEYS_FETCH_TIMEOUT must be between 100ms and %s (the write timeout, 15s, less 5s for the rest of an exchange)",
			MaxKeysFetchTimeout)
	case c.TokenLeeway < 0 || c.TokenLeeway > 5*time.Second:
		return errors.New("TOKEN_LEEWAY must be between 0s and 5s")
	}
	return nil
}

// Audiences are AllowedAudiences without the spaces envconfig keeps around
// commas, and without empty entries.
func (c *Config) Audiences() []string {
	var out []string
	for _, a := range c.AllowedAudiences {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// NewKeySource builds the key source the settings describe. observe, when
// set, is told of every fetch (see KeySourceConfig.Observe).
func (c *Config) NewKeySource(log *slog.Logger, observe func(reason, outcome string)) *KeySource {
	return NewKeySource(KeySourceConfig{
		BaseURL:            c.BaseURL,
		ProjectID:          c.ProjectID,
		RefreshInterval:    c.KeysRefreshInterval,
		UnknownKIDCooldown: c.KeysUnknownKIDCooldown,
		MaxStale:           c.KeysMaxStale,
		FetchTimeout:       c.KeysFetchTimeout,
		Logger:             log,
		Observe:            observe,
	})
}

// NewVerifier builds the session verifier the settings describe, over
// keys. The server, `bridge reconcile` and `bridge doctor` all build it
// here, so they verify alike.
func (c *Config) NewVerifier(keys *KeySource) (*Verifier, error) {
	v, err := NewVerifier(VerifierConfig{
		ProjectID:        c.ProjectID,
		BaseURL:          c.BaseURL,
		ManagementKey:    c.ManagementKey,
		Keys:             keys,
		Leeway:           c.TokenLeeway,
		AuthSchema:       c.AuthSchema,
		AllowedAudiences: c.Audiences(),
	})
	if err != nil {
		return nil, fmt.Errorf("building descope verifier: %w", err)
	}
	return v, nil
}

func validProjectID(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}
