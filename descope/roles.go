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
	// onChange, when set, is told the roles a reload found changed (all
	// reloads but RefreshRoles', which returns them).
	onChange func(roles []string)
}

type roleKey struct{ tenant, name string }

// load returns the table, reloading it when older than the TTL.
func (r *roleTable) load(ctx context.Context) (map[roleKey][]string, error) {
	return r.loadFresh(ctx, false)
}

// loadFresh is load; with force it reloads whatever the table's age, and
// a failed reload keeps the last table.
func (r *roleTable) loadFresh(ctx context.Context, force bool) (map[roleKey][]string, error) {
	perms, changed, err := r.reload(ctx, force)
	if len(changed) > 0 && r.onChange != nil {
		r.onChange(changed)
	}
	return perms, err
}

// reload is loadFresh that returns the names of the roles whose
// permissions differ from the table it replaced, instead of reporting them.
func (r *roleTable) reload(ctx context.Context, force bool) (map[roleKey][]string, []string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !force && r.perms != nil && r.now().Sub(r.loaded) < r.ttl {
		return r.perms, nil, nil
	}
	all, err := r.sdk.Management.Role().LoadAll(ctx)
	if err != nil {
		return nil, nil, bridge.Wrap(bridge.CodeUpstream, err, "loading descope roles")
	}
	perms := make(map[roleKey][]string, len(all))
	for _, role := range all {
		if role != nil {
			perms[roleKey{role.TenantID, role.Name}] = role.PermissionNames
		}
	}
	changed := diffRoles(r.perms, perms)
	r.perms, r.loaded = perms, r.now()
	return perms, changed, nil
}

// diffRoles names the roles whose permissions differ between before and
// after, sorted. With nothing before there is nothing to compare with: a
// first load changes no role.
func diffRoles(before, after map[roleKey][]string) []string {
	if before == nil {
		return nil
	}
	seen := map[string]bool{}
	for k, p := range after {
		if old, ok := before[k]; !ok || !samePermissions(old, p) {
			seen[k.name] = true
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			seen[k.name] = true
		}
	}
	changed := make([]string, 0, len(seen))
	for name := range seen {
		changed = append(changed, name)
	}
	slices.Sort(changed)
	return changed
}

func samePermissions(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, p := range a {
		if !slices.Contains(b, p) {
			return false
		}
	}
	return true
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
