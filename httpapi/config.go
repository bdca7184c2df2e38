package httpapi

import (
	"errors"
	"fmt"
	"strings"
)

// Config is the HTTP edge's part of the service's configuration: which
// browsers may call, and how many exchanges a client address and a user
// may make. DefaultConfig holds every default.
type Config struct {
	// CORSAllowedOrigins are the browser origins allowed to call the API,
	// comma-separated, exactly as browsers send them
	// (https://app.example.com). Empty: no cross-origin access.
	CORSAllowedOrigins []string `envconfig:"CORS_ALLOWED_ORIGINS"`
	// RateLimitIPPerMinute is how many exchanges a minute one client
	// address may start, checked before the token is read; 0 turns it off.
	RateLimitIPPerMinute int `envconfig:"RATE_LIMIT_IP_PER_MINUTE"`
	// RateLimitIPBurst is how many of those may come at once.
	RateLimitIPBurst int `envconfig:"RATE_LIMIT_IP_BURST"`
	// RateLimitUserPerMinute is how many exchanges a minute one Descope
	// user may complete, checked after verification; 0 turns it off.
	RateLimitUserPerMinute int `envconfig:"RATE_LIMIT_USER_PER_MINUTE"`
	// RateLimitUserBurst is how many of those may come at once.
	RateLimitUserBurst int `envconfig:"RATE_LIMIT_USER_BURST"`
	// TrustedProxyHops is how many trusted proxies in front of the service
	// write the client address into X-Forwarded-For: 1 on Cloud Run, one
	// more for each further proxy that appends. 0 ignores the header and
	// limits by the connection's peer address.
	TrustedProxyHops int `envconfig:"TRUSTED_PROXY_HOPS"`
}

// DefaultConfig is the configuration with nothing set: the one place each
// edge default is written.
func DefaultConfig() Config {
	return Config{RateLimitIPPerMinute: 600, RateLimitIPBurst: 100, RateLimitUserPerMinute: 60, RateLimitUserBurst: 20}
}

// Validate checks the settings, each error naming the variable.
func (c *Config) Validate() error {
	for _, o := range c.Origins() {
		if err := CheckOrigin(o); err != nil {
			return fmt.Errorf("CORS_ALLOWED_ORIGINS: %w", err)
		}
	}
	for _, l := range []struct {
		name, burstName string
		rate, burst     int
	}{
		{"RATE_LIMIT_IP_PER_MINUTE", "RATE_LIMIT_IP_BURST", c.RateLimitIPPerMinute, c.RateLimitIPBurst},
		{"RATE_LIMIT_USER_PER_MINUTE", "RATE_LIMIT_USER_BURST", c.RateLimitUserPerMinute, c.RateLimitUserBurst},
	} {
		if l.rate < 0 {
			return fmt.Errorf("%s must be 0 (off) or more", l.name)
		}
		if l.rate > 0 && l.burst < 1 {
			return fmt.Errorf("%s must be at least 1 when %s is set", l.burstName, l.name)
		}
	}
	if c.TrustedProxyHops < 0 || c.TrustedProxyHops > 5 {
		return errors.New("TRUSTED_PROXY_HOPS must be between 0 and 5 (1 on Cloud Run)")
	}
	return nil
}

// Origins are CORSAllowedOrigins without the spaces envconfig keeps around
// commas, and without empty entries.
func (c *Config) Origins() []string {
	var out []string
	for _, o := range c.CORSAllowedOrigins {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}
