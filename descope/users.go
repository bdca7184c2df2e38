package descope

import (
	"context"
	"errors"
	"time"

	"github.com/descope/go-sdk/descope"
	"github.com/descope/go-sdk/descope/client"
	"golang.org/x/time/rate"

	"github.com/dfbridge/dfbridge/bridge"
)

// Users loads users through the Descope SDK's management API. It needs the
// SDK client to carry DESCOPE_MANAGEMENT_KEY.
type Users struct {
	sdk *client.DescopeClient
	// roles, when set, resolves each user's permissions.
	roles *roleTable
	// limit, when set, holds management calls to a rate.
	limit *rate.Limiter
}

var _ bridge.UserLoader = (*Users)(nil)

// NewUsers returns a bridge.UserLoader over sdk (Verifier.SDK()).
func NewUsers(sdk *client.DescopeClient) *Users { return &Users{sdk: sdk} }

// WithPermissions returns a loader that also resolves each user's
// permissions (project-level and per tenant) from the project's roles,
// cached for RoleCacheTTL. Lifecycle sync needs them so that the claims it
// writes are the ones an exchange of the user's session would give.
func (u *Users) WithPermissions() *Users {
	return &Users{sdk: u.sdk, roles: &roleTable{sdk: u.sdk, ttl: RoleCacheTTL, now: time.Now}}
}

// LoadUser returns the user with Descope user ID userID, or
// bridge.ErrUserNotFound when Descope does not know it.
func (u *Users) LoadUser(ctx context.Context, userID string) (*bridge.DescopeUser, error) {
	if userID == "" {
		return nil, bridge.ErrUserNotFound
	}
	if u.limit != nil {
		if err := u.limit.Wait(ctx); err != nil {
			return nil, err
		}
	}
	r, err := u.sdk.Management.User().Load(ctx, userID)
	if err != nil {
		if errors.Is(err, descope.ErrManagementUserNotFound) {
			return nil, bridge.ErrUserNotFound
		}
		return nil, bridge.Wrap(bridge.CodeUpstream, err, "loading descope user")
	}
	// Load takes a login ID or a user ID; a user whose login ID happens to
	// equal userID is someone else.
	if r.UserID != userID {
		return nil, bridge.ErrUserNotFound
	}
	du := userFromResponse(r)
	if u.roles != nil {
		if err := u.roles.resolve(ctx, du); err != nil {
			return nil, err
		}
	}
	return du, nil
}

// userFromResponse converts the SDK's user record to the bridge's.
func userFromResponse(r *descope.UserResponse) *bridge.DescopeUser {
	u := &bridge.DescopeUser{
		UserID:           r.UserID,
		LoginIDs:         r.LoginIDs,
		Email:            r.Email,
		EmailVerified:    r.VerifiedEmail,
		Name:             r.Name,
		Phone:            r.Phone,
		Status:           r.Status,
		Roles:            r.RoleNames,
		CustomAttributes: r.CustomAttributes,
	}
	if len(r.UserTenants) > 0 {
		u.Tenants = make(map[string]bridge.TenantAccess, len(r.UserTenants))
		for _, t := range r.UserTenants {
			if t != nil && t.TenantID != "" {
				u.Tenants[t.TenantID] = bridge.TenantAccess{Roles: t.Roles}
			}
		}
	}
	return u
}

// WithRoles returns a loader that resolves each user's permissions through
// r, the role table the rest of the service shares, so that a role event's
// refresh reaches lifecycle sync at once.
func (u *Users) WithRoles(r *Roles) *Users {
	return &Users{sdk: u.sdk, roles: r.table, limit: u.limit}
}

// Throttled returns a loader whose management calls (loads and search
// pages) are held to l.
func (u *Users) Throttled(l *rate.Limiter) *Users {
	return &Users{sdk: u.sdk, roles: u.roles, limit: l}
}

// searchPageSize is the page size of user searches.
const searchPageSize = 100

// EachUserPage implements bridge.UserPager: every user of the project,
// in pages of Descope's user search (POST /v2/mgmt/user/search), with
// permissions resolved when the loader resolves them.
func (u *Users) EachUserPage(ctx context.Context, f func(users []*bridge.DescopeUser, total int) error) error {
	return u.search(ctx, nil, func(page []*descope.UserResponse, total int) (bool, error) {
		out := make([]*bridge.DescopeUser, 0, len(page))
		for _, r := range page {
			du := userFromResponse(r)
			if u.roles != nil {
				if err := u.roles.resolve(ctx, du); err != nil {
					return false, err
				}
			}
			out = append(out, du)
		}
		return true, f(out, total)
	})
}

// search pages through the users matching roles (all users when roles is
// empty) until next says stop.
func (u *Users) search(ctx context.Context, roles []string, next func(page []*descope.UserResponse, total int) (bool, error)) error {
	for page := int32(0); ; page++ {
		if u.limit != nil {
			if err := u.limit.Wait(ctx); err != nil {
				return err
			}
		}
		users, total, err := u.sdk.Management.User().SearchAll(ctx, &descope.UserSearchOptions{
			Page: page, Limit: searchPageSize, Roles: roles,
		})
		if err != nil {
			return bridge.Wrap(bridge.CodeUpstream, err, "searching descope users")
		}
		if len(users) == 0 {
			return nil
		}
		more, err := next(users, total)
		if err != nil || !more || len(users) < searchPageSize {
			return err
		}
	}
}
