package redisstore

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/dfbridge/dfbridge/internal/secretcheck"
)

// Config is the shared state's part of the service's configuration. Unset,
// each instance keeps its own limits, audit-event memory, removed users
// and lifecycle queue. DefaultConfig holds every default.
type Config struct {
	// URL (redis:// or rediss://, with AUTH in the URL) makes many
	// instances act as one.
	URL string `envconfig:"REDIS_URL"`
	// CAFile is a PEM file of the CA that signed Redis's certificate
	// (Memorystore's server CA), trusted for the Redis connection only.
	CAFile string `envconfig:"REDIS_CA_FILE"`
	// VisibilityTimeout is how long a job read from the shared queue may
	// stay unacknowledged before another instance takes it over.
	VisibilityTimeout time.Duration `envconfig:"LIFECYCLE_VISIBILITY_TIMEOUT"`
}

// DefaultConfig is the configuration with nothing set: the one place each
// shared-state default is written.
func DefaultConfig() Config { return Config{VisibilityTimeout: 30 * time.Second} }

// Validate checks the settings, each error naming the variable.
func (c *Config) Validate() error {
	if c.URL != "" && !strings.HasPrefix(c.URL, "redis://") && !strings.HasPrefix(c.URL, "rediss://") {
		return errors.New("REDIS_URL must start with redis:// or rediss:// (TLS), e.g. rediss://:PASSWORD@10.0.0.3:6378/0")
	}
	if u, err := url.Parse(c.URL); err == nil && u.User != nil {
		if pw, _ := u.User.Password(); secretcheck.Placeholder(pw) || secretcheck.Placeholder(u.User.Username()) {
			return errors.New("REDIS_URL holds the example's placeholder AUTH string; use the instance's AUTH string (gcloud redis instances get-auth-string)")
		}
	}
	if c.VisibilityTimeout < time.Second {
		return errors.New("LIFECYCLE_VISIBILITY_TIMEOUT must be at least 1s")
	}
	return nil
}
