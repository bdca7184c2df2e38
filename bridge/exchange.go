package bridge

import (
	"context"
	"time"
)

// Verifier turns a raw Descope session JWT into a verified Session. It must
// refuse anything it cannot fully verify with an *Error carrying a Code.
type Verifier interface {
	Verify(ctx context.Context, token string) (*Session, error)
}

// Minter signs Firebase custom tokens.
type Minter interface {
	Mint(ctx context.Context, id Identity) (*CustomToken, error)
}

// Identity is what a session maps to on the Firebase side.
type Identity struct {
	// UID is the Firebase user ID, 1 to 128 bytes.
	UID string
	// Claims are the developer claims placed in the custom token.
	Claims map[string]any
	// TenantID is the Identity Platform tenant, or "" for the project.
	TenantID string
}

// CustomToken is a signed Firebase custom token.
type CustomToken struct {
	Token     string
	ExpiresAt time.Time
}

// Result is what an exchange returns to its caller.
type Result struct {
	Token     string
	UID       string
	ExpiresAt time.Time
	// User is the Descope user the token is for (dsub, else sub).
	User string
}

// Exchanger is an exchange as every layer in front of the use case sees it
// and offers it: a session token in (POST /exchange), or a session Descope
// vouched for in its own call (the connector), and a custom token out.
// *Exchange is one; so are flow's admission queue, repeat cache and
// removal gate, which wrap one, and the HTTP handlers take one.
type Exchanger interface {
	Exchange(ctx context.Context, token string) (*Result, error)
	ExchangeSession(ctx context.Context, s *Session) (*Result, error)
}

var _ Exchanger = (*Exchange)(nil)

// Exchange is the use case: verify, check policy, map, mint.
type Exchange struct {
	Verifier Verifier
	Mapping  *Mapping
	Minter   Minter
	// Migrator finds users' existing Firebase accounts; nil when migration
	// is off.
	Migrator *Migrator
	// Now is the clock policy gates read; nil means time.Now.
	Now func() time.Time
}

// Exchange verifies a Descope session JWT and returns a Firebase custom token
// for the identity it maps to.
func (x *Exchange) Exchange(ctx context.Context, token string) (*Result, error) {
	if token == "" {
		return nil, Errorf(CodeMissingToken, "no session token")
	}
	s, err := x.Verifier.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	return x.ExchangeSession(ctx, s)
}

// ExchangeSession checks the policy gates, resolves the identity and mints
// its token. The webhook connector uses it with sessions built from
// Descope's own calls, so they meet the same policy and mapping.
func (x *Exchange) ExchangeSession(ctx context.Context, s *Session) (*Result, error) {
	now := time.Now
	if x.Now != nil {
		now = x.Now
	}
	if err := x.Mapping.Check(s, now()); err != nil {
		return nil, err
	}
	id, err := x.Resolve(ctx, s)
	if err != nil {
		return nil, err
	}
	ct, err := x.Minter.Mint(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Result{Token: ct.Token, UID: id.UID, ExpiresAt: ct.ExpiresAt, User: s.UserID}, nil
}

// Resolve returns the Firebase identity s maps to, without policy gates:
// tenant and claims from the mapping, the UID of the user's existing
// account when migration finds one, else the UID by the mapping's strategy.
// Lifecycle sync uses it to find the account a Descope user signs in as.
func (x *Exchange) Resolve(ctx context.Context, s *Session) (Identity, error) {
	if x.Migrator == nil {
		return x.Mapping.Map(s)
	}
	return x.Mapping.mapWith(s, func(tenant string) (string, error) {
		return x.Migrator.Resolve(ctx, s, tenant)
	})
}
