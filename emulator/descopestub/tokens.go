package descopestub

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/descope/go-sdk/descope"
)

// Session describes the user a minted session speaks for. Zero fields are
// left out of the token, as Descope does.
type Session struct {
	UserID        string
	Roles         []string
	Permissions   []string
	Tenants       map[string]TenantRoles
	CurrentTenant string
	AMR           []string
	// Extra claims, as a Descope JWT template would add them. They override
	// the standard ones, so tests can craft odd tokens (a string exp, ...).
	Extra map[string]any
	// TTL is the session lifetime; default 10 minutes (Descope's default).
	TTL time.Duration
}

// TenantRoles is one entry of the tenants claim.
type TenantRoles struct {
	Roles       []string `json:"roles,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}

// Claims returns the claims Descope would put in a session JWT for s.
func (st *Stub) Claims(s Session, kind string) map[string]any {
	ttl := s.TTL
	if ttl == 0 {
		ttl = 10 * time.Minute
		if kind == "DSR" {
			ttl = 30 * 24 * time.Hour
		}
	}
	iat := now().Unix()
	iss := st.opts.Issuer
	if iss == "" {
		iss = st.opts.ProjectID
	}
	c := map[string]any{
		"iss": iss,
		"sub": s.UserID,
		"iat": iat,
		"exp": iat + int64(ttl/time.Second),
		"drn": kind,
		"amr": s.AMR,
	}
	if len(s.AMR) == 0 {
		c["amr"] = []string{"email"}
	}
	if len(s.Roles) > 0 {
		c["roles"] = s.Roles
	}
	if len(s.Permissions) > 0 {
		c["permissions"] = s.Permissions
	}
	if len(s.Tenants) > 0 {
		c["tenants"] = s.Tenants
	}
	if s.CurrentTenant != "" {
		c["dct"] = s.CurrentTenant
	}
	for k, v := range s.Extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// MintSession returns a session JWT (drn "DS") for s, signed by the current
// key. As at Descope, a session belongs to a user: one the stub does not
// know yet is created (enabled, with the session's project roles), so the
// management API finds whoever holds a session until a test deletes them.
func (st *Stub) MintSession(s Session) (string, error) {
	if s.UserID != "" {
		st.mu.Lock()
		if _, ok := st.users[s.UserID]; !ok {
			st.users[s.UserID] = &descope.UserResponse{UserID: s.UserID, RoleNames: s.Roles, Status: "enabled"}
		}
		st.mu.Unlock()
	}
	return st.Sign(nil, st.Claims(s, "DS"))
}

// MintRefresh returns a refresh JWT (drn "DSR") for s.
func (st *Stub) MintRefresh(s Session) (string, error) {
	return st.Sign(nil, st.Claims(s, "DSR"))
}

// Sign signs claims with the current key under RS256. header entries are
// added to (or, when nil-valued, removed from) the default header.
func (st *Stub) Sign(header map[string]any, claims map[string]any) (string, error) {
	k := st.SigningKey()
	return SignWith(k.Private, k.ID, header, claims)
}

// SignWith signs claims with any RSA key, for tests of foreign keys.
func SignWith(key *rsa.PrivateKey, kid string, header map[string]any, claims map[string]any) (string, error) {
	h := map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}
	for k, v := range header {
		if v == nil {
			delete(h, k)
			continue
		}
		h[k] = v
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("encoding header: %w", err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encoding claims: %w", err)
	}
	signing := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
