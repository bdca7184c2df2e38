package bridge

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxUIDLength is Firebase's limit on a custom token's uid, in bytes.
const MaxUIDLength = 128

// MaxClaimsBytes is Firebase's limit on the JSON encoding of developer claims.
// The Admin SDK measures json.Marshal's output, so this package does too.
const MaxClaimsBytes = 1000

// ReservedClaims are names Firebase refuses as developer claims.
var reservedClaims = map[string]bool{
	"acr": true, "amr": true, "at_hash": true, "aud": true, "auth_time": true,
	"azp": true, "cnf": true, "c_hash": true, "exp": true, "firebase": true,
	"iat": true, "iss": true, "jti": true, "nbf": true, "nonce": true, "sub": true,
}

// IsReservedClaim reports whether Firebase refuses name as a developer claim.
func IsReservedClaim(name string) bool { return reservedClaims[name] }

// UIDSource names where a Firebase UID comes from.
type UIDSource string

// UID strategies. The Descope user ID is the default because it never
// changes; the others exist for apps whose data is keyed otherwise.
const (
	UIDFromUserID  UIDSource = "userId"
	UIDFromLoginID UIDSource = "loginId"
	UIDFromEmail   UIDSource = "email"
	UIDFromClaim   UIDSource = "claim"
)

// Claim names a Session carries as typed fields, so they map the same way
// whether the Session came from a JWT or from Descope's management API.
const (
	ClaimRoles         = "roles"
	ClaimPermissions   = "permissions"
	ClaimTenants       = "tenants"
	ClaimCurrentTenant = "dct"
	ClaimAMR           = "amr"
	ClaimEmail         = "email"
	ClaimEmailVerified = "email_verified"
	ClaimLoginIDs      = "loginIds"
)

// Mapping decides which Firebase identity a session becomes. It is pure: the
// same session always maps to the same identity, with no I/O. Build one with
// DefaultMapping or ParseMapping; its zero value is not usable.
type Mapping struct {
	uidFrom   UIDSource
	uidClaim  string
	uidPrefix string

	// pass are the session claims copied into the token, in config order.
	pass      []passRule
	namespace string
	static    map[string]any
	projRoles string
	projPerms string
	drops     []claimSlot

	tenantMap      map[string]string
	refuseUnmapped bool

	policy    Policy
	migration *MigrationConfig
}

// passRule copies one session claim (from) to one token claim (to).
type passRule struct{ from, to string }

// claimSlot addresses one token claim: top level, or inside the namespace.
type claimSlot struct {
	name    string
	inNS    bool
	wholeNS bool
}

// DefaultMapping maps the Descope user ID to the Firebase UID and passes
// roles, permissions, tenants and the current tenant (dct) as claims.
func DefaultMapping() *Mapping {
	return &Mapping{
		uidFrom: UIDFromUserID,
		pass: []passRule{
			{ClaimRoles, ClaimRoles}, {ClaimPermissions, ClaimPermissions},
			{ClaimTenants, ClaimTenants}, {ClaimCurrentTenant, ClaimCurrentTenant},
		},
	}
}

// Migration returns the migration settings, or nil when migration is off.
func (m *Mapping) Migration() *MigrationConfig { return m.migration }

// UIDSource says where the mapping takes the Firebase UID from.
func (m *Mapping) UIDSource() UIDSource { return m.uidFrom }

// Map returns the identity for s without any look-up: tenant, UID by the
// configured strategy, and claims. Exchange.Resolve adds migration.
func (m *Mapping) Map(s *Session) (Identity, error) { return m.mapWith(s, nil) }

// mapWith maps s; existing, when set, may name the UID of an account the
// user already has in the tenant, which then wins over the strategy.
func (m *Mapping) mapWith(s *Session, existing func(tenant string) (string, error)) (Identity, error) {
	tenant, err := m.Tenant(s)
	if err != nil {
		return Identity{}, err
	}
	claims, err := m.Claims(s)
	if err != nil {
		return Identity{}, err
	}
	var uid string
	if existing != nil {
		if uid, err = existing(tenant); err != nil {
			return Identity{}, err
		}
	}
	if uid == "" {
		if uid, err = m.UID(s); err != nil {
			return Identity{}, err
		}
	}
	return Identity{UID: uid, Claims: claims, TenantID: tenant}, nil
}

// UID returns the Firebase UID for s by the configured strategy and prefix.
// A value that is missing, too long or not UTF-8 is refused, never
// truncated or repaired: a silently different UID is a different user.
func (m *Mapping) UID(s *Session) (string, error) {
	var v string
	switch m.uidFrom {
	case UIDFromUserID, "":
		if s.UserID == "" {
			return "", Errorf(CodeMissingUserID, "session has no user ID")
		}
		v = s.UserID
	case UIDFromLoginID:
		for _, id := range s.LoginIDs {
			if id != "" {
				v = id
				break
			}
		}
		if v == "" {
			return "", Errorf(CodeUIDUnavailable, "session carries no login ID")
		}
	case UIDFromEmail:
		if s.Email == "" {
			return "", Errorf(CodeUIDUnavailable, "session carries no email")
		}
		// An unverified email as a UID would let anyone who types an
		// address become that address's Firebase user.
		if !s.EmailVerified {
			return "", Errorf(CodeEmailNotVerified, "email is not verified; it cannot be the UID")
		}
		v = NormalizeEmail(s.Email)
	case UIDFromClaim:
		raw, present := s.Claims[m.uidClaim]
		str, ok := raw.(string)
		if !present || !ok || str == "" {
			return "", Errorf(CodeUIDUnavailable, "claim %q is absent, empty or not a string", m.uidClaim)
		}
		v = str
	default:
		return "", Errorf(CodeInternal, "unknown uid strategy %q", m.uidFrom)
	}
	uid := m.uidPrefix + v
	if err := CheckUID(uid); err != nil {
		return "", err
	}
	return uid, nil
}

// CheckUID refuses a UID Firebase would refuse or alter: empty, over 128
// bytes, or not valid UTF-8 (JSON encoding would replace the bad bytes).
func CheckUID(uid string) error {
	switch {
	case uid == "":
		return Errorf(CodeUIDUnavailable, "uid is empty")
	case len(uid) > MaxUIDLength:
		return Errorf(CodeUIDTooLong, "uid is %d bytes, Firebase allows %d", len(uid), MaxUIDLength)
	case !utf8.ValidString(uid):
		return Errorf(CodeUIDUnavailable, "uid is not valid UTF-8")
	}
	return nil
}

// NormalizeEmail is how emails are compared and used as UIDs: trimmed and
// lower-cased, as Firebase stores them.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// noCurrentTenant refuses a session in several tenants that names none as
// current (no dct), where the mapping needs one (to pick a Firebase tenant,
// or to project a tenant's roles): guessing would give the user another
// tenant's rights, and mapping none would silently mint a token without
// them. The app selects a tenant first (Descope's selectTenant), so the
// refreshed session carries dct.
func noCurrentTenant(s *Session) error {
	if s.CurrentTenant == "" && len(s.Tenants) > 1 {
		return Errorf(CodeTenantNotSelected, "the session is in %d tenants and names no current one (dct)", len(s.Tenants))
	}
	return nil
}

// CurrentTenant is the Descope tenant a session acts in: dct when set, else
// the user's only tenant, else "".
func CurrentTenant(s *Session) string {
	if s.CurrentTenant != "" {
		return s.CurrentTenant
	}
	if len(s.Tenants) == 1 {
		for id := range s.Tenants {
			return id
		}
	}
	return ""
}

// Tenant returns the Identity Platform tenant for s: the mapped tenant of
// its current Descope tenant, "" for the project, or a refusal when the
// mapping says unmapped sessions may not sign in.
func (m *Mapping) Tenant(s *Session) (string, error) {
	if len(m.tenantMap) == 0 {
		return "", nil
	}
	if err := noCurrentTenant(s); err != nil {
		return "", err
	}
	cur := CurrentTenant(s)
	if fb, ok := m.tenantMap[cur]; ok && cur != "" {
		return fb, nil
	}
	if m.refuseUnmapped {
		return "", Errorf(CodeTenantNotMapped, "descope tenant %q has no firebase tenant", Truncate(cur, 64))
	}
	return "", nil
}

// Claims returns the developer claims for s: passed session claims (under
// the namespace when set), static claims, the current tenant's roles and
// permissions projected to top level, then the size budget.
func (m *Mapping) Claims(s *Session) (map[string]any, error) {
	claims := map[string]any{}
	dst := claims
	if m.namespace != "" {
		dst = map[string]any{}
	}
	for _, r := range m.pass {
		if v, ok := sessionClaim(s, r.from); ok {
			dst[r.to] = v
		}
	}
	if m.namespace != "" && len(dst) > 0 {
		claims[m.namespace] = dst
	}
	for k, v := range m.static {
		claims[k] = v
	}
	if m.projRoles != "" || m.projPerms != "" {
		if err := noCurrentTenant(s); err != nil {
			return nil, err
		}
		if ta, ok := s.Tenants[CurrentTenant(s)]; ok {
			if m.projRoles != "" && len(ta.Roles) > 0 {
				claims[m.projRoles] = ta.Roles
			}
			if m.projPerms != "" && len(ta.Permissions) > 0 {
				claims[m.projPerms] = ta.Permissions
			}
		}
	}
	return m.fit(claims)
}

// fit enforces Firebase's size limit, dropping claims in the configured
// order until the encoding fits; with nothing left to drop it refuses.
func (m *Mapping) fit(claims map[string]any) (map[string]any, error) {
	size, err := encodedSize(claims)
	if err != nil {
		return nil, err
	}
	for _, d := range m.drops {
		if size <= MaxClaimsBytes {
			break
		}
		if !d.remove(claims, m.namespace) {
			continue
		}
		if size, err = encodedSize(claims); err != nil {
			return nil, err
		}
	}
	if size > MaxClaimsBytes {
		return nil, Errorf(CodeClaimsTooLarge, "claims encode to %d bytes, Firebase allows %d", size, MaxClaimsBytes)
	}
	return claims, nil
}

// remove deletes the slot's claim, reporting whether anything was there.
func (d claimSlot) remove(claims map[string]any, ns string) bool {
	switch {
	case d.wholeNS:
		_, ok := claims[ns]
		delete(claims, ns)
		return ok
	case d.inNS:
		inner, ok := claims[ns].(map[string]any)
		if !ok {
			return false
		}
		if _, ok := inner[d.name]; !ok {
			return false
		}
		delete(inner, d.name)
		if len(inner) == 0 {
			delete(claims, ns)
		}
		return true
	}
	_, ok := claims[d.name]
	delete(claims, d.name)
	return ok
}

func encodedSize(claims map[string]any) (int, error) {
	b, err := json.Marshal(claims)
	if err != nil {
		return 0, Wrap(CodeInvalidClaims, err, "encoding claims")
	}
	return len(b), nil
}

// sessionClaim reads one named claim: typed Session fields first, so a
// Session built from non-JWT data maps like one from a JWT, then the raw
// claims. Empty values are absent.
func sessionClaim(s *Session, name string) (any, bool) {
	switch name {
	case ClaimRoles:
		return s.Roles, len(s.Roles) > 0
	case ClaimPermissions:
		return s.Permissions, len(s.Permissions) > 0
	case ClaimTenants:
		return s.Tenants, len(s.Tenants) > 0
	case ClaimCurrentTenant:
		return s.CurrentTenant, s.CurrentTenant != ""
	case ClaimAMR:
		return s.AMR, len(s.AMR) > 0
	case ClaimEmail:
		return s.Email, s.Email != ""
	case ClaimEmailVerified:
		return s.EmailVerified, s.Email != ""
	case ClaimLoginIDs:
		return s.LoginIDs, len(s.LoginIDs) > 0
	}
	v, ok := s.Claims[name]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

// Truncate is s cut to n bytes with an ellipsis, for quoting an operator's
// or a caller's input in an error message.
func Truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// FirebaseTenants lists the Identity Platform tenants the mapping places
// sessions in, sorted, without duplicates: where reconcile walks accounts
// beside the project's.
func (m *Mapping) FirebaseTenants() []string {
	var out []string
	for _, fb := range m.tenantMap {
		if fb != "" && !slices.Contains(out, fb) {
			out = append(out, fb)
		}
	}
	slices.Sort(out)
	return out
}
