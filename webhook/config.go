package webhook

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/internal/secretcheck"
)

// Config is the webhook routes' part of the service's configuration: the
// credentials of Descope's Generic HTTP Token connector and of its audit
// webhook connector (each route exists only when it has one), and what
// the audit route remembers. DefaultConfig holds every default.
type Config struct {
	// ExternalTokenHMACSecrets authenticate the token connector by its
	// HMAC secret; comma-separated, several during a rotation.
	ExternalTokenHMACSecrets []string `envconfig:"EXTERNAL_TOKEN_HMAC_SECRETS"`
	// ExternalTokenBearerSecrets authenticate it by a bearer token. With
	// both kinds set, a call must carry both.
	ExternalTokenBearerSecrets []string `envconfig:"EXTERNAL_TOKEN_BEARER_SECRETS"`
	// ExternalTokenAPIKeyHeader is the header its "API Key" authentication
	// type sends the key in.
	ExternalTokenAPIKeyHeader string `envconfig:"EXTERNAL_TOKEN_API_KEY_HEADER"`
	// ExternalTokenAPIKeys authenticate it by an API key in that header.
	ExternalTokenAPIKeys []string `envconfig:"EXTERNAL_TOKEN_API_KEYS"`
	// ExternalTokenBasicAuth authenticate it by Basic credentials,
	// "user:password" entries.
	ExternalTokenBasicAuth []string `envconfig:"EXTERNAL_TOKEN_BASIC_AUTH"`
	// AuditHMACSecrets and the other Audit credentials authenticate the
	// audit webhook connector the same ways.
	AuditHMACSecrets   []string `envconfig:"AUDIT_WEBHOOK_HMAC_SECRETS"`
	AuditBearerSecrets []string `envconfig:"AUDIT_WEBHOOK_BEARER_SECRETS"`
	AuditAPIKeyHeader  string   `envconfig:"AUDIT_WEBHOOK_API_KEY_HEADER"`
	AuditAPIKeys       []string `envconfig:"AUDIT_WEBHOOK_API_KEYS"`
	AuditBasicAuth     []string `envconfig:"AUDIT_WEBHOOK_BASIC_AUTH"`
	// RevokeOnMaxAttempts revokes a user's Firebase sessions on
	// LoginExceedMaxAttempts.
	RevokeOnMaxAttempts bool `envconfig:"AUDIT_WEBHOOK_REVOKE_ON_MAX_ATTEMPTS"`
	// DedupeWindow and DedupeSize bound the memory of accepted audit
	// events, by which a repeated one changes nothing.
	DedupeWindow time.Duration `envconfig:"AUDIT_WEBHOOK_DEDUPE_WINDOW"`
	DedupeSize   int           `envconfig:"AUDIT_WEBHOOK_DEDUPE_SIZE"`
	// RefusalsPerMinute is how many webhook calls a minute one address may
	// fail (a forged signature, a time-out, a short body) before it is held
	// to one body read at a time; 0 turns it off. Authenticated calls are
	// never charged, and never refused for their address's failures.
	RefusalsPerMinute int `envconfig:"WEBHOOK_REFUSALS_PER_MINUTE"`
}

// DefaultConfig is the configuration with nothing set: the one place each
// webhook default is written.
func DefaultConfig() Config {
	return Config{
		ExternalTokenAPIKeyHeader: "x-api-key",
		AuditAPIKeyHeader:         "x-api-key",
		RevokeOnMaxAttempts:       true,
		DedupeWindow:              time.Hour,
		DedupeSize:                10_000,
		RefusalsPerMinute:         60,
	}
}

// ExternalTokenSecrets are the connector route's credentials, every
// configured authentication type together.
func (c *Config) ExternalTokenSecrets() Secrets {
	return NewSecrets(c.ExternalTokenHMACSecrets, c.ExternalTokenBearerSecrets).
		WithAPIKeys(c.ExternalTokenAPIKeyHeader, c.ExternalTokenAPIKeys).
		WithBasic(c.ExternalTokenBasicAuth)
}

// AuditSecrets are the audit route's credentials.
func (c *Config) AuditSecrets() Secrets {
	return NewSecrets(c.AuditHMACSecrets, c.AuditBearerSecrets).
		WithAPIKeys(c.AuditAPIKeyHeader, c.AuditAPIKeys).
		WithBasic(c.AuditBasicAuth)
}

// Validate checks the settings, each error naming the variable and the fix.
func (c *Config) Validate() error {
	for _, route := range []struct {
		prefix            string
		hmac, bearer, api []string
		basic             []string
		header            string
	}{
		{"EXTERNAL_TOKEN", c.ExternalTokenHMACSecrets, c.ExternalTokenBearerSecrets, c.ExternalTokenAPIKeys, c.ExternalTokenBasicAuth, c.ExternalTokenAPIKeyHeader},
		{"AUDIT_WEBHOOK", c.AuditHMACSecrets, c.AuditBearerSecrets, c.AuditAPIKeys, c.AuditBasicAuth, c.AuditAPIKeyHeader},
	} {
		if err := validateRoute(route.prefix, route.hmac, route.bearer, route.api, route.basic, route.header); err != nil {
			return err
		}
	}
	if c.DedupeWindow < time.Second || c.DedupeWindow > 24*time.Hour {
		return errors.New("AUDIT_WEBHOOK_DEDUPE_WINDOW must be between 1s and 24h")
	}
	if c.DedupeSize < 1 || c.DedupeSize > 1_000_000 {
		return errors.New("AUDIT_WEBHOOK_DEDUPE_SIZE must be between 1 and 1000000")
	}
	if c.RefusalsPerMinute < 0 {
		return errors.New("WEBHOOK_REFUSALS_PER_MINUTE must be 0 (off) or more")
	}
	return nil
}

// validateRoute checks one route's credentials; prefix names its variables.
func validateRoute(prefix string, hmac, bearer, apiKeys, basic []string, header string) error {
	for _, e := range basic {
		if user, pass, ok := strings.Cut(e, ":"); !ok || user == "" || pass == "" {
			return fmt.Errorf("%s_BASIC_AUTH entries must be user:password, comma-separated", prefix)
		}
	}
	for _, route := range []struct {
		suffix  string
		secrets []string
	}{{"_HMAC_SECRETS", hmac}, {"_BEARER_SECRETS", bearer}, {"_API_KEYS", apiKeys}, {"_BASIC_AUTH", basic}} {
		for i, s := range route.secrets {
			if strings.TrimSpace(s) != s {
				return fmt.Errorf("%s%s: secret %d of %d is padded with spaces; use comma-separated random secrets (%s)",
					prefix, route.suffix, i+1, len(route.secrets), secretcheck.Make)
			}
			if route.suffix == "_BASIC_AUTH" {
				_, s, _ = strings.Cut(s, ":")
			}
			if why := secretcheck.Weak(s); why != "" {
				return fmt.Errorf("%s%s: secret %d of %d %s; make one with %s", prefix, route.suffix, i+1, len(route.secrets), why, secretcheck.Make)
			}
		}
	}
	if len(bearer) > 0 && len(basic) > 0 {
		return fmt.Errorf("%s_BEARER_SECRETS and %s_BASIC_AUTH both use the Authorization header, so no call could pass both; set one", prefix, prefix)
	}
	if !validHeaderName(header) || strings.EqualFold(header, "Authorization") || strings.EqualFold(header, "X-Descope-Webhook-S256") {
		return fmt.Errorf("%s_API_KEY_HEADER=%q must be a header name other than Authorization and X-Descope-Webhook-S256, e.g. x-api-key", prefix, bridge.Truncate(header, 60))
	}
	return nil
}

// validHeaderName reports whether h is an HTTP token (RFC 9110 field name).
func validHeaderName(h string) bool {
	if h == "" || len(h) > 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
