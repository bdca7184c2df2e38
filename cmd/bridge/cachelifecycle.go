package main

import (
	"bytes"
	"context"
	"sync"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/webhook"
)

// cacheInvalidating drops a user's cached exchanges after each lifecycle
// event about them, whatever its outcome, so a deleted, disabled or changed
// user's next exchange is minted anew rather than served from memory.
type cacheInvalidating struct {
	webhook.Lifecycle
	cache *bridge.ExchangeCache
}

func (l cacheInvalidating) UserDeleted(ctx context.Context, userID string, loginIDs []string) (bridge.Outcome, error) {
	defer l.cache.Invalidate(userID)
	return l.Lifecycle.UserDeleted(ctx, userID, loginIDs)
}

func (l cacheInvalidating) UserModified(ctx context.Context, userID string, loginIDs []string, revoke bool) (bridge.Outcome, error) {
	defer l.cache.Invalidate(userID)
	return l.Lifecycle.UserModified(ctx, userID, loginIDs, revoke)
}

// keySetWatch tells whether a fetched key set differs from the last one.
type keySetWatch struct {
	mu   sync.Mutex
	last []byte
}

func (w *keySetWatch) changed(jwks []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Equal(w.last, jwks) {
		return false
	}
	w.last = jwks
	return true
}
