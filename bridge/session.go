package bridge

import "time"

// Session is a Descope session JWT whose signature, issuer, kind and time
// claims have all been checked. Nothing unverified ever becomes a Session.
type Session struct {
	// UserID is the Descope user ID: dsub when a JWT template moved it there,
	// else sub. Never empty.
	UserID string
	// ProjectID is the Descope project the session was issued by.
	ProjectID string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// AuthTime is when the user authenticated, if the token says (auth_time),
	// else IssuedAt.
	AuthTime time.Time

	Roles         []string
	Permissions   []string
	Tenants       map[string]TenantAccess
	CurrentTenant string
	AMR           []string

	// Email and EmailVerified come from JWT-template claims when present.
	Email         string
	EmailVerified bool
	// LoginIDs are the user's login IDs when the token carries them.
	LoginIDs []string

	// Claims holds every claim of the verified token, decoded from JSON, for
	// mappings that pass custom JWT-template claims through.
	Claims map[string]any
}

// TenantAccess is the user's authorization within one Descope tenant.
type TenantAccess struct {
	Roles       []string `json:"roles,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}
