package bridge

import (
	"context"
	"time"
)

// RemovedUsers remembers the Descope users the bridge has learnt are
// deleted or disabled, so that no exchange and no connector call for them
// succeeds while a session or custom token issued before could still be
// used. A mark expires after its TTL; Restore lifts it early when Descope
// enables the user again. Implementations: MemoryRemoved for one instance,
// redisstore.Removed for every instance (and across restarts).
type RemovedUsers interface {
	MarkRemoved(ctx context.Context, userID string, ttl time.Duration) error
	Restore(ctx context.Context, userID string) error
	// Removed reports whether userID carries a live mark.
	Removed(ctx context.Context, userID string) (bool, error)
}

// DefaultRemovedTTL is how long a removal mark holds by default: longer
// than any Descope session-token timeout a project is likely to set (ten
// minutes by default), plus the custom token's hour.
const DefaultRemovedTTL = 7 * 24 * time.Hour
