package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
)

// mintingExchanger is an in-memory exchanger counting the tokens it mints.
type mintingExchanger struct{ minted int }

func (x *mintingExchanger) Exchange(ctx context.Context, token string) (*bridge.Result, error) {
	x.minted++
	return &bridge.Result{Token: "custom", UID: "fb-U2life", ExpiresAt: time.Now().Add(time.Hour)}, nil
}

// lifecycleResult is an in-memory webhook.Lifecycle answering err.
type lifecycleResult struct{ err error }

func (l lifecycleResult) UserDeleted(context.Context, string, []string) (bridge.Outcome, error) {
	return bridge.OutcomeDisabled, l.err
}

func (l lifecycleResult) UserModified(context.Context, string, []string, bool) (bridge.Outcome, error) {
	return bridge.OutcomeRevoked, l.err
}

// A lifecycle event about a user drops that user's cached exchanges, named
// by the Descope user ID even when the mapping gave another Firebase UID.
func TestLifecycleEventsInvalidateTheExchangeCache(t *testing.T) {
	stub, err := descopestub.New(descopestub.Options{ProjectID: testProject})
	require.NoError(t, err)
	tok, err := stub.MintSession(descopestub.Session{UserID: "U2life"})
	require.NoError(t, err)
	other, err := stub.MintSession(descopestub.Session{UserID: "U2other"})
	require.NoError(t, err)

	events := map[string]func(cacheInvalidating) error{
		"a deletion": func(l cacheInvalidating) error {
			_, err := l.UserDeleted(context.Background(), "U2life", nil)
			return err
		},
		"a modification": func(l cacheInvalidating) error {
			_, err := l.UserModified(context.Background(), "U2life", nil, false)
			return err
		},
	}
	for name, event := range events {
		for _, failing := range []bool{false, true} {
			label := name + " drops the user's cached exchange"
			var lerr error
			if failing {
				label, lerr = name+" that fails part-way still drops the user's cached exchange", errors.New("firebase unavailable")
			}
			t.Run(label, func(t *testing.T) {
				inner := &mintingExchanger{}
				cache, err := bridge.NewExchangeCache(inner, bridge.CacheConfig{Size: 8, TTL: time.Minute})
				require.NoError(t, err)
				for _, s := range []string{tok, other} {
					_, err := cache.Exchange(context.Background(), s)
					require.NoError(t, err)
				}
				require.Equal(t, 2, inner.minted)

				assert.Equal(t, lerr, event(cacheInvalidating{Lifecycle: lifecycleResult{err: lerr}, cache: cache}))

				_, err = cache.Exchange(context.Background(), tok)
				require.NoError(t, err)
				assert.Equal(t, 3, inner.minted, "the user's session is minted anew")
				_, err = cache.Exchange(context.Background(), other)
				require.NoError(t, err)
				assert.Equal(t, 3, inner.minted, "another user's entry stays")
			})
		}
	}
}

func TestLifecycleEventsWithTheCacheOff(t *testing.T) {
	l := cacheInvalidating{Lifecycle: lifecycleResult{}}
	assert.NotPanics(t, func() { _, _ = l.UserModified(context.Background(), "U2life", nil, true) })
}
