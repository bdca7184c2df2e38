package flow

import (
	"errors"
	"time"
)

// Config is the exchange path's part of the service's configuration: the
// repeat cache and the admission queue. DefaultConfig holds every default.
type Config struct {
	// CacheSize is how many sessions' exchanges are remembered, so a
	// repeat of the same session (a retry, an app restart) costs no new
	// signature. 0 turns the cache off.
	CacheSize int `envconfig:"EXCHANGE_CACHE_SIZE"`
	// CacheTTL is the longest a remembered exchange serves after its token
	// was minted (never past the session's own exp); at most MaxCacheTTL,
	// so a served custom token has most of its hour left.
	CacheTTL time.Duration `envconfig:"EXCHANGE_CACHE_TTL"`
	// InFlightPerCore is how many exchanges signing with a key file run
	// at once per core; the rest wait in one first-come-first-served
	// queue. Keyless signing waits on IAM, not the CPU, and is not queued.
	InFlightPerCore int `envconfig:"EXCHANGE_IN_FLIGHT_PER_CORE"`
	// QueueMax is how many exchanges may wait for their turn; more are
	// answered 503 busy with Retry-After at once.
	QueueMax int `envconfig:"EXCHANGE_QUEUE_MAX"`
}

// DefaultConfig is the configuration with nothing set: the one place each
// exchange-path default is written.
func DefaultConfig() Config {
	return Config{CacheSize: 1024, CacheTTL: 5 * time.Minute, InFlightPerCore: 2, QueueMax: 1024}
}

// Validate checks the settings, each error naming the variable.
func (c *Config) Validate() error {
	switch {
	case c.CacheSize < 0 || c.CacheSize > 1_000_000:
		return errors.New("EXCHANGE_CACHE_SIZE must be between 0 (off) and 1000000")
	case c.CacheSize > 0 && (c.CacheTTL < time.Second || c.CacheTTL > MaxCacheTTL):
		return errors.New("EXCHANGE_CACHE_TTL must be between 1s and 15m")
	case c.InFlightPerCore < 1 || c.InFlightPerCore > 64:
		return errors.New("EXCHANGE_IN_FLIGHT_PER_CORE must be between 1 and 64")
	case c.QueueMax < 0 || c.QueueMax > 1_000_000:
		return errors.New("EXCHANGE_QUEUE_MAX must be between 0 and 1000000")
	}
	return nil
}
