package descope

import (
	"context"
	"errors"
	"time"

	"github.com/descope/go-sdk/descope"
	"github.com/descope/go-sdk/descope/client"

	"github.com/dfbridge/dfbridge/bridge"
)

// Users loads users through the Descope SDK's management API. It needs the
// SDK client to carry DESCOPE_MANAGEMENT_KEY.
type Users struct {
	sdk *client.DescopeClient
	// roles, when set, resolves each user's permissions.
	roles *roleTable
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
