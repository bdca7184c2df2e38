package main

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/bridge/bridgetest"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/flow"
)

// mintingExchanger is an in-memory exchanger counting the tokens it mints.
type mintingExchanger struct{ minted int }

func (x *mintingExchanger) Exchange(_ context.Context, _ string) (*bridge.Result, error) {
	x.minted++
	return &bridge.Result{Token: "custom", UID: "fb-U2life", ExpiresAt: time.Now().Add(time.Hour)}, nil
}

func (x *mintingExchanger) ExchangeSession(ctx context.Context, s *bridge.Session) (*bridge.Result, error) {
	return x.Exchange(ctx, s.UserID)
}

// A lifecycle job about a user drops that user's cached exchanges, named
// by the Descope user ID even when the mapping gave another Firebase UID,
// whether the job succeeds or fails.
func TestLifecycleJobsInvalidateTheExchangeCache(t *testing.T) {
	t.Parallel()
	stub, err := descopestub.New(descopestub.Options{ProjectID: testProject})
	require.NoError(t, err)
	tok, err := stub.MintSession(descopestub.Session{UserID: "U2life"})
	require.NoError(t, err)
	other, err := stub.MintSession(descopestub.Session{UserID: "U2other"})
	require.NoError(t, err)

	for _, failing := range []bool{false, true} {
		label := "a job drops the user's cached exchange"
		if failing {
			label = "a job that fails still drops the user's cached exchange"
		}
		t.Run(label, func(t *testing.T) {
			inner := &mintingExchanger{}
			cache, err := flow.NewExchangeCache(inner, flow.CacheConfig{Size: 8, TTL: time.Minute})
			require.NoError(t, err)
			for _, s := range []string{tok, other} {
				_, err := cache.Exchange(context.Background(), s)
				require.NoError(t, err)
			}
			require.Equal(t, 2, inner.minted)

			users := bridgetest.NewUsers()
			if failing {
				users.Err = bridge.Wrap(bridge.CodeUpstream, errors.New("descope unavailable"), "loading descope user")
			}
			l := &lifecycle{log: discardLogger(), cache: cache, uc: &bridge.Lifecycle{
				ProjectID: testProject, Users: users, Accounts: bridgetest.NewAccounts(),
				Identities: &bridge.Exchange{Mapping: bridge.DefaultMapping()},
			}}
			err = l.handle(context.Background(), bridge.Job{Kind: bridge.JobUser, UserID: "U2life"})
			assert.Equal(t, failing, err != nil)

			_, err = cache.Exchange(context.Background(), tok)
			require.NoError(t, err)
			assert.Equal(t, 3, inner.minted, "the user's session is minted anew")
			_, err = cache.Exchange(context.Background(), other)
			require.NoError(t, err)
			assert.Equal(t, 3, inner.minted, "another user's entry stays")
		})
	}
}

func TestLifecycleJobsWithTheCacheOff(t *testing.T) {
	t.Parallel()
	l := &lifecycle{log: discardLogger(), uc: &bridge.Lifecycle{
		ProjectID: testProject, Users: bridgetest.NewUsers(), Accounts: bridgetest.NewAccounts(),
		Identities: &bridge.Exchange{Mapping: bridge.DefaultMapping()},
	}}
	assert.NotPanics(t, func() { _ = l.handle(context.Background(), bridge.Job{Kind: bridge.JobUser, UserID: "U2life"}) })
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
