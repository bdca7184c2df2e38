package bridge

import "unicode/utf8"

// MaxUIDLength is Firebase's limit on a custom token's uid, in bytes.
const MaxUIDLength = 128

// ReservedClaims are names Firebase refuses as developer claims.
var reservedClaims = map[string]bool{
	"acr": true, "amr": true, "at_hash": true, "aud": true, "auth_time": true,
	"azp": true, "cnf": true, "c_hash": true, "exp": true, "firebase": true,
	"iat": true, "iss": true, "jti": true, "nbf": true, "nonce": true, "sub": true,
}

// IsReservedClaim reports whether Firebase refuses name as a developer claim.
func IsReservedClaim(name string) bool { return reservedClaims[name] }

// Mapping decides which Firebase identity a session becomes. It is pure: the
// same session always maps to the same identity, with no I/O.
type Mapping struct{}

// DefaultMapping maps the Descope user ID to the Firebase UID and passes
// roles, permissions, tenants and the current tenant (dct) as claims.
func DefaultMapping() *Mapping { return &Mapping{} }

// Map returns the identity for s, or an *Error when s cannot be mapped.
func (m *Mapping) Map(s *Session) (Identity, error) {
	uid := s.UserID
	if uid == "" {
		return Identity{}, Errorf(CodeMissingUserID, "session has no user ID")
	}
	if len(uid) > MaxUIDLength {
		return Identity{}, Errorf(CodeUIDTooLong, "uid is %d bytes, Firebase allows %d", len(uid), MaxUIDLength)
	}
	// JSON encoding would replace invalid bytes with U+FFFD, so two
	// different IDs could become one Firebase user.
	if !utf8.ValidString(uid) {
		return Identity{}, Errorf(CodeInvalidClaims, "uid is not valid UTF-8")
	}
	claims := map[string]any{}
	if len(s.Roles) > 0 {
		claims["roles"] = s.Roles
	}
	if len(s.Permissions) > 0 {
		claims["permissions"] = s.Permissions
	}
	if len(s.Tenants) > 0 {
		claims["tenants"] = s.Tenants
	}
	if s.CurrentTenant != "" {
		claims["dct"] = s.CurrentTenant
	}
	return Identity{UID: uid, Claims: claims}, nil
}
