package descope

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/descope/go-sdk/descope/client"

	"github.com/dfbridge/dfbridge/bridge"
)

// RoleCacheTTL bounds how stale the role → permission table may be. Roles
// change rarely; a burst of audit events should not become a burst of
// management calls.
const RoleCacheTTL = time.Minute

// roleTable resolves role names to permissions from the project's roles,
// as Descope does when it puts permissions in a session JWT. Tenant-scoped
// roles shadow project roles of the same name within their tenant.
type roleTable struct {
	sdk *client.DescopeClient
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	perms  map[roleKey][]string
	loaded time.Time
}

type roleKey struct{ tenant, name string }

// load returns the table, reloading it when older than the TTL.
func (r *roleTable) load(ctx context.Context) (map[roleKey][]string, error) {
	return r.loadFresh(ctx, false)
}

// loadFresh is load; with force it reloads whatever the table's age, and
// a failed reload keeps the last table.
func (r *roleTable) loadFresh(ctx context.Context, force bool) (map[roleKey][]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !force && r.perms != nil && r.now().Sub(r.loaded) < r.ttl {
		return r.perms, nil
	}
	all, err := r.sdk.Management.Role().LoadAll(ctx)
	if err != nil {
		return nil, bridge.Wrap(bridge.CodeUpstream, err, "loading descope roles")
	}
	perms := make(map[roleKey][]string, len(all))
	for _, role := range all {
		if role != nil {
			perms[roleKey{role.TenantID, role.Name}] = role.PermissionNames
		}
	}
	r.perms, r.loaded = perms, r.now()
	return perms, nil
}

// resolve fills in u's permissions, project-level and per tenant.
func (r *roleTable) resolve(ctx context.Context, u *bridge.DescopeUser) error {
	perms, err := r.load(ctx)
	if err != nil {
		return err
	}
	u.Permissions, u.Tenants = grants(perms, u.Roles, u.Tenants)
	return nil
}

// grants is what roles grant project-wide and what each tenant's roles grant
// in it; tenants is copied, never changed.
func grants(perms map[roleKey][]string, roles []string, tenants map[string]bridge.TenantAccess) ([]string, map[string]bridge.TenantAccess) {
	project := permissionsOf(perms, "", roles)
	if len(tenants) == 0 {
		return project, tenants
	}
	out := make(map[string]bridge.TenantAccess, len(tenants))
	for id, t := range tenants {
		out[id] = bridge.TenantAccess{Roles: t.Roles, Permissions: permissionsOf(perms, id, t.Roles)}
	}
	return project, out
}

// permissionsOf is the union of the permissions the named roles grant in
// tenant ("" for the project), in first-seen order.
func permissionsOf(perms map[roleKey][]string, tenant string, names []string) []string {
	var out []string
	for _, name := range names {
		p, ok := perms[roleKey{tenant, name}]
		if !ok && tenant != "" {
			p = perms[roleKey{"", name}]
		}
		for _, perm := range p {
			if !slices.Contains(out, perm) {
				out = append(out, perm)
			}
		}
	}
	return out
}
