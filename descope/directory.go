package descope

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	sdk "github.com/descope/go-sdk/descope"
	"github.com/descope/go-sdk/descope/client"

	"github.com/dfbridge/dfbridge/bridge"
)

// RoleCacheTTL bounds how stale the role → permission table may be. Roles
// change rarely; a burst of audit events should not become a burst of
// management calls.
const RoleCacheTTL = time.Minute

// Directory re-reads Descope users through the Descope SDK's management API
// (DESCOPE_MANAGEMENT_KEY), for lifecycle sync. Descope's user record names
// roles only, so their permissions are resolved from the project's roles, as
// Descope does when it puts permissions in a session JWT.
type Directory struct {
	sdk *client.DescopeClient
	now func() time.Time

	mu       sync.Mutex
	roles    map[roleKey][]string
	rolesAt  time.Time
	rolesTTL time.Duration
}

// roleKey names a role: tenant-scoped roles shadow project roles of the same
// name within their tenant.
type roleKey struct{ tenant, name string }

var _ bridge.UserSource = (*Directory)(nil)

// NewDirectory reads users through c, which must carry a management key.
func NewDirectory(c *client.DescopeClient) *Directory {
	return &Directory{sdk: c, now: time.Now, rolesTTL: RoleCacheTTL}
}

// LoadUser returns the user as Descope has it now, or bridge.ErrUserNotFound.
func (d *Directory) LoadUser(ctx context.Context, userID string) (*bridge.User, error) {
	if userID == "" {
		return nil, bridge.ErrUserNotFound
	}
	r, err := d.sdk.Management.User().Load(ctx, userID)
	if err != nil {
		if errors.Is(err, sdk.ErrManagementUserNotFound) || sdk.IsNotFoundError(err) {
			return nil, bridge.ErrUserNotFound
		}
		return nil, bridge.Wrap(bridge.CodeUpstream, err, "loading descope user")
	}
	// Load takes a login ID or a user ID; a user whose login ID happens to
	// equal userID is someone else.
	if r.UserID != userID {
		return nil, bridge.ErrUserNotFound
	}
	roles, err := d.roleTable(ctx)
	if err != nil {
		return nil, err
	}
	return userFromResponse(r, roles), nil
}

// roleTable returns role → permissions, reloading it when older than the TTL.
func (d *Directory) roleTable(ctx context.Context) (map[roleKey][]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.roles != nil && d.now().Sub(d.rolesAt) < d.rolesTTL {
		return d.roles, nil
	}
	all, err := d.sdk.Management.Role().LoadAll(ctx)
	if err != nil {
		return nil, bridge.Wrap(bridge.CodeUpstream, err, "loading descope roles")
	}
	table := make(map[roleKey][]string, len(all))
	for _, r := range all {
		if r != nil {
			table[roleKey{r.TenantID, r.Name}] = r.PermissionNames
		}
	}
	d.roles, d.rolesAt = table, d.now()
	return table, nil
}

// userFromResponse turns Descope's user record into a bridge.User.
func userFromResponse(r *sdk.UserResponse, roles map[roleKey][]string) *bridge.User {
	u := &bridge.User{
		UserID:        r.UserID,
		LoginIDs:      r.LoginIDs,
		Email:         r.Email,
		EmailVerified: r.VerifiedEmail,
		Name:          r.Name,
		Disabled:      r.Status == "disabled",
		Roles:         r.RoleNames,
		Permissions:   permissionsOf(roles, "", r.RoleNames),
		Attributes:    r.CustomAttributes,
	}
	for _, t := range r.UserTenants {
		if t == nil || t.TenantID == "" {
			continue
		}
		if u.Tenants == nil {
			u.Tenants = map[string]bridge.TenantAccess{}
		}
		u.Tenants[t.TenantID] = bridge.TenantAccess{
			Roles:       t.Roles,
			Permissions: permissionsOf(roles, t.TenantID, t.Roles),
		}
	}
	return u
}

// permissionsOf is the union of the permissions the named roles grant in
// tenant ("" for the project), in first-seen order.
func permissionsOf(roles map[roleKey][]string, tenant string, names []string) []string {
	var out []string
	for _, name := range names {
		perms, ok := roles[roleKey{tenant, name}]
		if !ok && tenant != "" {
			perms = roles[roleKey{"", name}]
		}
		for _, p := range perms {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}
