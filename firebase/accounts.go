package firebase

import (
	"context"
	"errors"
	"fmt"
	"time"

	"firebase.google.com/go/v4/auth"
	"golang.org/x/time/rate"
	"google.golang.org/api/iterator"

	"github.com/dfbridge/dfbridge/bridge"
)

// Accounts manages Firebase accounts for lifecycle sync through the Admin
// SDK: disabling, revoking refresh tokens, persistent custom claims,
// deletion. Accounts in an Identity Platform tenant go through that tenant's
// client.
type Accounts struct {
	c       *Client
	tenants []string
	limit   *rate.Limiter
}

var _ bridge.Accounts = (*Accounts)(nil)

// Accounts returns a bridge.Accounts backed by this client.
func (c *Client) Accounts() *Accounts { return &Accounts{c: c} }

// userManager is the part of the Admin SDK's Auth client (project or tenant)
// that lifecycle sync uses.
type userManager interface {
	GetUser(ctx context.Context, uid string) (*auth.UserRecord, error)
	UpdateUser(ctx context.Context, uid string, user *auth.UserToUpdate) (*auth.UserRecord, error)
	RevokeRefreshTokens(ctx context.Context, uid string) error
	SetCustomUserClaims(ctx context.Context, uid string, customClaims map[string]any) error
	DeleteUser(ctx context.Context, uid string) error
	CreateUser(ctx context.Context, user *auth.UserToCreate) (*auth.UserRecord, error)
}

func (a *Accounts) users(tenantID string) (userManager, error) {
	tc, err := a.c.forTenant(tenantID)
	if err != nil {
		return nil, bridge.Wrap(bridge.CodeTenantNotMapped, err, "selecting firebase tenant")
	}
	um, ok := tc.(userManager)
	if !ok {
		return nil, bridge.Errorf(bridge.CodeInternal, "firebase client %T cannot manage users", tc)
	}
	return um, nil
}

// Account implements bridge.Accounts.
func (a *Accounts) Account(ctx context.Context, ref bridge.AccountRef) (*bridge.Account, error) {
	um, err := a.users(ref.TenantID)
	if err != nil {
		return nil, err
	}
	u, err := um.GetUser(ctx, ref.UID)
	if err != nil {
		return nil, accountError(err, "reading firebase account")
	}
	return accountOf(u), nil
}

// accountOf is the part of a user record lifecycle sync compares.
func accountOf(u *auth.UserRecord) *bridge.Account {
	acct := &bridge.Account{
		Disabled:      u.Disabled,
		Email:         u.Email,
		EmailVerified: u.EmailVerified,
		DisplayName:   u.DisplayName,
		Claims:        u.CustomClaims,
	}
	if u.TokensValidAfterMillis > 0 {
		acct.SessionsValidAfter = time.UnixMilli(u.TokensValidAfterMillis)
	}
	if u.UserMetadata != nil && u.UserMetadata.LastLogInTimestamp > 0 {
		acct.LastSignIn = time.UnixMilli(u.UserMetadata.LastLogInTimestamp)
	}
	if u.UserMetadata != nil && u.UserMetadata.CreationTimestamp > 0 {
		acct.Created = time.UnixMilli(u.UserMetadata.CreationTimestamp)
	}
	for _, p := range u.ProviderUserInfo {
		if p != nil {
			acct.Providers = append(acct.Providers, p.ProviderID)
		}
	}
	return acct
}

var _ bridge.AccountLister = (*Accounts)(nil)

// EachAccount implements bridge.AccountLister: every account of the
// project, then of each tenant in Tenants, a page of 1,000 at a time
// (the Admin SDK's listing), each page held to the limiter, if any.
func (a *Accounts) EachAccount(ctx context.Context, f func(ref bridge.AccountRef, acct *bridge.Account) error) error {
	for _, tenant := range append([]string{""}, a.tenants...) {
		tc, err := a.c.forTenant(tenant)
		if err != nil {
			return bridge.Wrap(bridge.CodeTenantNotMapped, err, "selecting firebase tenant")
		}
		lister, ok := tc.(interface {
			Users(ctx context.Context, nextPageToken string) *auth.UserIterator
		})
		if !ok {
			return bridge.Errorf(bridge.CodeInternal, "firebase client %T cannot list users", tc)
		}
		it := lister.Users(ctx, "")
		for n := 0; ; n++ {
			if n%1000 == 0 && a.limit != nil {
				if err := a.limit.Wait(ctx); err != nil {
					return err
				}
			}
			u, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				return bridge.Wrap(bridge.CodeUpstream, err, "listing firebase accounts")
			}
			if err := f(bridge.AccountRef{UID: u.UID, TenantID: tenant}, accountOf(u.UserRecord)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Listing returns accounts whose EachAccount also walks the given
// Identity Platform tenants, and holds each page to limit.
func (a *Accounts) Listing(tenants []string, limit *rate.Limiter) *Accounts {
	return &Accounts{c: a.c, tenants: tenants, limit: limit}
}

// UpdateAccount implements bridge.Accounts.
func (a *Accounts) UpdateAccount(ctx context.Context, ref bridge.AccountRef, upd bridge.AccountUpdate) error {
	u := &auth.UserToUpdate{}
	if upd.Disabled != nil {
		u = u.Disabled(*upd.Disabled)
	}
	if upd.Email != nil {
		u = u.Email(*upd.Email)
	}
	if upd.EmailVerified != nil {
		u = u.EmailVerified(*upd.EmailVerified)
	}
	if upd.DisplayName != nil {
		u = u.DisplayName(*upd.DisplayName)
	}
	return a.call(ref, "updating firebase account", func(um userManager) error {
		_, err := um.UpdateUser(ctx, ref.UID, u)
		return err
	})
}

// SetClaims implements bridge.Accounts. Empty claims clear them.
func (a *Accounts) SetClaims(ctx context.Context, ref bridge.AccountRef, claims map[string]any) error {
	if len(claims) == 0 {
		claims = nil
	}
	return a.call(ref, "setting firebase custom claims", func(um userManager) error {
		return um.SetCustomUserClaims(ctx, ref.UID, claims)
	})
}

// RevokeSessions implements bridge.Accounts.
func (a *Accounts) RevokeSessions(ctx context.Context, ref bridge.AccountRef) error {
	return a.call(ref, "revoking firebase refresh tokens", func(um userManager) error {
		return um.RevokeRefreshTokens(ctx, ref.UID)
	})
}

// DeleteAccount implements bridge.Accounts.
func (a *Accounts) DeleteAccount(ctx context.Context, ref bridge.AccountRef) error {
	return a.call(ref, "deleting firebase account", func(um userManager) error {
		return um.DeleteUser(ctx, ref.UID)
	})
}

// CreateAccount implements bridge.Accounts: the account, then its claims
// (the Admin SDK creates accounts without claims).
func (a *Accounts) CreateAccount(ctx context.Context, ref bridge.AccountRef, c bridge.AccountCreate) error {
	err := a.call(ref, "creating firebase account", func(um userManager) error {
		_, err := um.CreateUser(ctx, (&auth.UserToCreate{}).UID(ref.UID).Disabled(c.Disabled))
		return err
	})
	if err != nil || len(c.Claims) == 0 {
		return err
	}
	return a.SetClaims(ctx, ref, c.Claims)
}

// call runs f with the user manager of ref's tenant and maps its error.
func (a *Accounts) call(ref bridge.AccountRef, op string, f func(userManager) error) error {
	um, err := a.users(ref.TenantID)
	if err != nil {
		return err
	}
	if err := f(um); err != nil {
		return accountError(err, op)
	}
	return nil
}

// accountError maps Admin SDK errors to the bridge's: a missing account is
// bridge.ErrAccountNotFound; an email another account holds is a conflict
// no retry can fix; anything else is an upstream failure worth retrying.
func accountError(err error, op string) error {
	switch {
	case auth.IsUserNotFound(err):
		return fmt.Errorf("%s: %w", op, bridge.ErrAccountNotFound)
	case auth.IsUIDAlreadyExists(err):
		return fmt.Errorf("%s: %w", op, bridge.ErrAccountExists)
	case auth.IsEmailAlreadyExists(err):
		return bridge.Wrap(bridge.CodeAmbiguousAccount, err, op)
	}
	return bridge.Wrap(bridge.CodeUpstream, err, op)
}

// MissingTenants returns those of ids that are not Identity Platform
// tenants of the project, by listing the tenants (a look-up by ID would do
// on Google, but the Auth emulator creates any tenant it is asked for).
func (c *Client) MissingTenants(ctx context.Context, ids []string) ([]string, error) {
	have := map[string]bool{}
	it := c.auth.TenantManager.Tenants(ctx, "")
	for {
		t, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("listing tenants: %w", err)
		}
		have[t.ID] = true
	}
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}
