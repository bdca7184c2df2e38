package flow

import (
	"errors"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/dfbridge/dfbridge/bridge"
)

// NewMemo is a bridge.Memo of at most size answers, each forgotten ttl
// after it was added, the least recently used first when full.
func NewMemo[V any](size int, ttl time.Duration) (bridge.Memo[V], error) {
	if size <= 0 || ttl <= 0 {
		return nil, errors.New("a memo needs a positive size and ttl")
	}
	return expirable.NewLRU[string, V](size, nil, ttl), nil
}

// NewMigrationMemos are the memories a bridge.Migrator keeps, sized and
// timed by the mapping's migration settings (cacheSize, cacheTtl).
func NewMigrationMemos(c bridge.MigrationConfig) (bridge.MigrationMemos, error) {
	accounts, err := NewMemo[[]bridge.DirectoryUser](c.CacheSize, c.CacheTTL)
	if err != nil {
		return bridge.MigrationMemos{}, errors.New("migration cache needs a positive TTL and size")
	}
	emails, err := NewMemo[bridge.EmailFact](c.CacheSize, c.CacheTTL)
	if err != nil {
		return bridge.MigrationMemos{}, errors.New("migration cache needs a positive TTL and size")
	}
	return bridge.MigrationMemos{Accounts: accounts, Emails: emails}, nil
}
