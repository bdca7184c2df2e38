package descope

import (
	"context"
	"errors"

	"github.com/descope/go-sdk/descope"
	"github.com/descope/go-sdk/descope/client"

	"github.com/dfbridge/dfbridge/bridge"
)

// Users loads users through the Descope SDK's management API. It needs the
// SDK client to carry DESCOPE_MANAGEMENT_KEY.
type Users struct{ sdk *client.DescopeClient }

var _ bridge.UserLoader = (*Users)(nil)

// NewUsers returns a bridge.UserLoader over sdk (Verifier.SDK()).
func NewUsers(sdk *client.DescopeClient) *Users { return &Users{sdk: sdk} }

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
	return userFromResponse(r), nil
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
