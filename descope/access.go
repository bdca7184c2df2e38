package descope

import (
	"context"
	"log/slog"
	"time"

	"github.com/descope/go-sdk/descope"
	"github.com/descope/go-sdk/descope/client"
	"golang.org/x/time/rate"

	"github.com/dfbridge/dfbridge/bridge"
)

// Roles is the project's role table from Descope's management API
// (GET /v1/mgmt/role/all): role name → permissions, project roles and roles
// scoped to one tenant. It is cached for RoleCacheTTL, reloaded on a
// schedule by Run, and at once by Refresh (on role and permission events).
type Roles struct {
	table *roleTable
	// users, when set, loads a session's roles from the user record first:
	// for JWT templates that carry no authorization (auth schema none).
	users *Users
	// limit, when set, holds user searches to a rate.
	limit *rate.Limiter
}

var _ bridge.AccessResolver = (*Roles)(nil)

// NewRoles returns the role table of the project sdk manages; the SDK must
// carry DESCOPE_MANAGEMENT_KEY.
func NewRoles(sdk *client.DescopeClient) *Roles {
	return &Roles{table: &roleTable{sdk: sdk, ttl: RoleCacheTTL, now: time.Now}}
}

// WithUserRoles returns a resolver that first reads the session's roles
// from the user's Descope record, for sessions whose JWT carries none.
func (r *Roles) WithUserRoles(users *Users) *Roles { return &Roles{table: r.table, users: users} }

// ResolveAccess replaces s's permissions, project and per tenant, with what
// its roles grant in the role table.
func (r *Roles) ResolveAccess(ctx context.Context, s *bridge.Session) error {
	if r.users != nil {
		u, err := r.users.LoadUser(ctx, s.UserID)
		if err != nil {
			return err
		}
		s.Roles, s.Tenants = u.Roles, u.Tenants
	}
	perms, err := r.table.load(ctx)
	if err != nil {
		return err
	}
	s.Permissions, s.Tenants = grants(perms, s.Roles, s.Tenants)
	return nil
}

var _ bridge.RoleDirectory = (*Roles)(nil)

// RefreshRoles implements bridge.RoleDirectory: it reloads the table now
// and names the roles whose permissions changed.
func (r *Roles) RefreshRoles(ctx context.Context) ([]string, error) {
	_, changed, err := r.table.reload(ctx, true)
	return changed, err
}

// OnChange makes every other reload of the table (the scheduled one, and
// the cache's) tell f the roles it found changed, so that a role edit
// reaches lifecycle sync within RoleCacheTTL even when no role event
// arrives. Call it before Run.
func (r *Roles) OnChange(f func(roles []string)) { r.table.onChange = f }

// UsersWithRoles implements bridge.RoleDirectory through Descope's user
// search by role name (project and tenant roles), page by page.
func (r *Roles) UsersWithRoles(ctx context.Context, roles []string, limit int) ([]string, bool, error) {
	u := &Users{sdk: r.table.sdk, limit: r.limit}
	var ids []string
	more := false
	err := u.search(ctx, roles, func(page []*descope.UserResponse, _ int) (bool, error) {
		for _, x := range page {
			if limit > 0 && len(ids) >= limit {
				more = true
				return false, nil
			}
			ids = append(ids, x.UserID)
		}
		return true, nil
	})
	return ids, more, err
}

// Throttled returns a view of the same table whose user searches are held
// to l.
func (r *Roles) Throttled(l *rate.Limiter) *Roles {
	return &Roles{table: r.table, users: r.users, limit: l}
}

// Refresh reloads the table now.
func (r *Roles) Refresh(ctx context.Context) error {
	_, err := r.table.loadFresh(ctx, true)
	return err
}

// Run reloads the table every interval until ctx ends, so a role edited at
// Descope reaches exchanges within interval even with no role event.
func (r *Roles) Run(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
				log.Warn("refreshing descope roles failed; keeping the last table", "error", err.Error())
			}
		}
	}
}
