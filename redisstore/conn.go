package redisstore

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"
)

// Open connects to rawURL: redis:// or rediss:// (TLS), with the
// password (and user) in the URL for AUTH. caFile, when set, is a PEM file
// of the CA that signed the server's certificate (Memorystore's own CA,
// which no system trust store holds), trusted for this connection only.
// The pool is sized from GOMAXPROCS, and every call is bounded by short
// timeouts, so a slow Redis costs an exchange milliseconds, not seconds.
func Open(rawURL, caFile string) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// The URL holds the password: neither it nor a fragment of it (a
		// bad escape quotes the bytes after its %) may reach a log.
		return nil, errors.New("REDIS_URL does not parse: want redis:// or rediss://[user:password@]host:port[/db], " +
			"with reserved characters in the password percent-encoded")
	}
	if caFile != "" {
		if opt.TLSConfig == nil {
			return nil, errors.New("REDIS_CA_FILE is set but REDIS_URL is not rediss:// (TLS)")
		}
		pem, err := os.ReadFile(caFile) //nolint:gosec // G304: the operator names this file (REDIS_CA_FILE)
		if err != nil {
			return nil, fmt.Errorf("REDIS_CA_FILE: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("REDIS_CA_FILE=%q holds no PEM certificate", caFile)
		}
		opt.TLSConfig.RootCAs = roots
	}
	opt.PoolSize = 10 * runtime.GOMAXPROCS(0)
	opt.MinIdleConns = runtime.GOMAXPROCS(0)
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = time.Second
	opt.WriteTimeout = time.Second
	// Retries are the caller's business (fallbacks, 503s).
	opt.MaxRetries = 0
	return redis.NewClient(opt), nil
}

// Ping reports whether Redis answers within d.
func Ping(ctx context.Context, rdb *redis.Client, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return rdb.Ping(ctx).Err()
}

// hashKey is the Redis key part for a value that must not be stored as is
// (a client address, a user ID): 16 bytes of its SHA-256, in hex.
func hashKey(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:16])
}
