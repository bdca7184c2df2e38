package flow

import (
	"context"

	"github.com/dfbridge/dfbridge/bridge"

	"golang.org/x/time/rate"
)

// Background work (lifecycle jobs, reconcile) shares Descope's management
// API and Firebase's Admin API with everything else the project does: these
// wrappers hold it to a rate per upstream, so a 20,000-user batch or a full
// reconcile cannot spend the project's quota. A nil limiter is no limit.

// ThrottledAccounts is an Accounts held to a rate, each call one token.
type ThrottledAccounts struct {
	bridge.Accounts
	Limit *rate.Limiter
}

// Account implements Accounts.
func (t ThrottledAccounts) Account(ctx context.Context, ref bridge.AccountRef) (*bridge.Account, error) {
	if err := wait(ctx, t.Limit); err != nil {
		return nil, err
	}
	return t.Accounts.Account(ctx, ref)
}

// UpdateAccount implements Accounts.
func (t ThrottledAccounts) UpdateAccount(ctx context.Context, ref bridge.AccountRef, u bridge.AccountUpdate) error {
	if err := wait(ctx, t.Limit); err != nil {
		return err
	}
	return t.Accounts.UpdateAccount(ctx, ref, u)
}

// SetClaims implements Accounts.
func (t ThrottledAccounts) SetClaims(ctx context.Context, ref bridge.AccountRef, claims map[string]any) error {
	if err := wait(ctx, t.Limit); err != nil {
		return err
	}
	return t.Accounts.SetClaims(ctx, ref, claims)
}

// RevokeSessions implements Accounts.
func (t ThrottledAccounts) RevokeSessions(ctx context.Context, ref bridge.AccountRef) error {
	if err := wait(ctx, t.Limit); err != nil {
		return err
	}
	return t.Accounts.RevokeSessions(ctx, ref)
}

// DeleteAccount implements Accounts.
func (t ThrottledAccounts) DeleteAccount(ctx context.Context, ref bridge.AccountRef) error {
	if err := wait(ctx, t.Limit); err != nil {
		return err
	}
	return t.Accounts.DeleteAccount(ctx, ref)
}

// CreateAccount implements Accounts.
func (t ThrottledAccounts) CreateAccount(ctx context.Context, ref bridge.AccountRef, c bridge.AccountCreate) error {
	if err := wait(ctx, t.Limit); err != nil {
		return err
	}
	return t.Accounts.CreateAccount(ctx, ref, c)
}

func wait(ctx context.Context, l *rate.Limiter) error {
	if l == nil {
		return nil
	}
	return l.Wait(ctx)
}

// NewLimiter is a limiter of perSecond with a burst of one second's worth;
// perSecond ≤ 0 is no limit (nil).
func NewLimiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond)))
}
