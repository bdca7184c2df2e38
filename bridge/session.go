package bridge

import (
	"context"
	"time"
)

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

	// FromConnector marks a session built from a Descope connector call
	// rather than a session JWT: it has no amr and no dct unless the call
	// says, and gates marked "connector": "skip" do not judge it.
	FromConnector bool

	// Claims holds every claim of the verified token, decoded from JSON, for
	// mappings that pass custom JWT-template claims through.
	Claims map[string]any
}

// TenantAccess is the user's authorization within one Descope tenant.
type TenantAccess struct {
	Roles       []string `json:"roles,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}

// AccessResolver fills in what a session may do from Descope's role table:
// the permissions its project roles grant, and per tenant the permissions
// that tenant's roles grant. Descope's user record and JWT templates that
// exclude permissions carry roles only, so the connector route and, when
// configured, /exchange resolve them, giving one user the same permissions
// by either route.
type AccessResolver interface {
	ResolveAccess(ctx context.Context, s *Session) error
}

// ResolvingVerifier resolves each verified session's access before it is
// mapped (DESCOPE_RESOLVE_PERMISSIONS).
type ResolvingVerifier struct {
	Verifier
	Access AccessResolver
}

// Verify verifies token, then resolves the session's access.
func (v ResolvingVerifier) Verify(ctx context.Context, token string) (*Session, error) {
	s, err := v.Verifier.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := v.Access.ResolveAccess(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}
