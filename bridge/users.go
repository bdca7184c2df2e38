package bridge

import "maps"

// DescopeUser is a user as Descope's management API describes it. The
// migration step reads its email; the webhook connector and lifecycle sync
// build Sessions from it, so the same mapping and policy apply to them.
type DescopeUser struct {
	UserID        string
	LoginIDs      []string
	Email         string
	EmailVerified bool
	Name          string
	Phone         string
	// Status is Descope's: "enabled", "disabled" or "invited".
	Status string
	// Roles are project-level role names; Descope's user record carries no
	// permissions (they follow from roles).
	Roles []string
	// Permissions are what Roles grant, when the loader resolves them from
	// the project's roles (lifecycle sync's does, so the claims it writes
	// match an exchange's); nil otherwise.
	Permissions []string
	Tenants     map[string]TenantAccess
	// CustomAttributes are the user's custom attributes, by name.
	CustomAttributes map[string]any
}

// Disabled reports whether Descope has disabled the user.
func (u *DescopeUser) Disabled() bool { return u.Status == "disabled" }

// Session builds the Session a mapping sees for u when no JWT is at hand.
// Custom attributes become its claims, so uid.from "claim" and custom
// claims in claims.include read them. Time fields and AMR are left zero:
// the caller sets them when it knows (gates on them fail closed otherwise).
func (u *DescopeUser) Session(projectID string) *Session {
	return &Session{
		UserID:        u.UserID,
		ProjectID:     projectID,
		Roles:         u.Roles,
		Permissions:   u.Permissions,
		Tenants:       u.Tenants,
		Email:         u.Email,
		EmailVerified: u.EmailVerified,
		LoginIDs:      u.LoginIDs,
		Claims:        maps.Clone(u.CustomAttributes),
	}
}
