package descope

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/descope/go-sdk/descope/client"

	"github.com/dfbridge/dfbridge/bridge"
)

// Verifier checks Descope session JWTs. Signature and the SDK's own checks
// run in the Descope SDK; everything the SDK does not check runs here.
type Verifier struct {
	projectID string
	keys      *KeySource
	sdk       *client.DescopeClient
	leeway    time.Duration
	schema    AuthSchema
	audiences []string
	now       func() time.Time
}

// AuthSchema is a JWT template's authorization schema, in Descope's own
// names: where the session's roles and permissions are.
type AuthSchema string

// Descope's authorization schemas.
const (
	// SchemaDefault: project roles and permissions at the root, each
	// tenant's under tenants.<id>.
	SchemaDefault AuthSchema = "default"
	// SchemaTenantOnly: the current tenant's (dct) roles and permissions at
	// the root, and no tenants claim.
	SchemaTenantOnly AuthSchema = "tenantOnly"
	// SchemaNone: no roles, permissions or tenants at all.
	SchemaNone AuthSchema = "none"
)

// ParseAuthSchema checks a DESCOPE_JWT_AUTH_SCHEMA value.
func ParseAuthSchema(v string) (AuthSchema, error) {
	switch s := AuthSchema(v); s {
	case SchemaDefault, SchemaTenantOnly, SchemaNone:
		return s, nil
	case "":
		return SchemaDefault, nil
	}
	return "", errors.New("not a Descope authorization schema")
}

var _ bridge.Verifier = (*Verifier)(nil)

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	ProjectID string
	BaseURL   string
	// ManagementKey enables management-API look-ups; optional.
	ManagementKey string
	Keys          *KeySource
	// Leeway allows for clock skew on exp, nbf and iat. The SDK applies a
	// fixed 5s of its own, so a larger leeway cannot widen acceptance.
	Leeway time.Duration
	// HTTPClient carries management-API calls. Default: 10s timeout.
	HTTPClient *http.Client
	// AuthSchema is the JWT template's authorization schema; default
	// SchemaDefault.
	AuthSchema AuthSchema
	// AllowedAudiences, when set, restricts sessions to those whose aud
	// (a string or a list) names one of them: an OIDC access token issued
	// to another application of the same Descope project is refused.
	AllowedAudiences []string
}

// NewVerifier builds a Verifier around the Descope SDK. The SDK's key fetches
// are answered from keys, so the SDK never fetches keys on its own.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Keys == nil {
		return nil, errors.New("descope verifier needs a key source")
	}
	sdk, err := newSDK(cfg.ProjectID, cfg.BaseURL, cfg.ManagementKey, cfg.Keys, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	return &Verifier{
		projectID: cfg.ProjectID,
		keys:      cfg.Keys,
		sdk:       sdk,
		leeway:    cfg.Leeway,
		schema:    cfg.AuthSchema,
		audiences: cfg.AllowedAudiences,
		now:       time.Now,
	}, nil
}

// SDK returns the underlying Descope client, for management-API adapters.
func (v *Verifier) SDK() *client.DescopeClient { return v.sdk }

// Verify returns the session a Descope session JWT proves, or a *bridge.Error.
func (v *Verifier) Verify(ctx context.Context, token string) (*bridge.Session, error) {
	raw, err := parseToken(token)
	if err != nil {
		return nil, err
	}
	times, err := readTimes(raw.claims)
	if err != nil {
		return nil, err
	}
	pub, err := v.keys.Key(ctx, raw.kid)
	if err != nil {
		if errors.Is(err, ErrNoKeys) {
			return nil, bridge.Wrap(bridge.CodeKeysUnavailable, err, "verifying session")
		}
		return nil, bridge.Errorf(bridge.CodeUnknownKey, "kid not in key set%s", v.otherProject(raw.claims))
	}
	// RS256 with the key as the key set parsed it, once per key set. The
	// Descope SDK would convert its JWK to a new key and parse the token
	// again on every call (about 90 µs and 430 allocations); it stays the
	// differential oracle in the tests (FuzzVerify, TestVerifierAgreesWithTheSDK).
	if !verifyRS256(pub, raw.signed, raw.sig) {
		if terr := times.check(v.now(), v.leeway); terr != nil {
			return nil, terr
		}
		return nil, bridge.Errorf(bridge.CodeInvalidSignature, "signature does not verify with key %s", raw.kid)
	}
	// From here on the payload is authentic.
	if err := times.check(v.now(), v.leeway); err != nil {
		return nil, err
	}
	if !raw.text {
		return nil, bridge.Errorf(bridge.CodeInvalidClaims, "payload holds invalid UTF-8 or a lone surrogate")
	}
	if err := v.checkAudience(raw.claims); err != nil {
		return nil, err
	}
	s, err := sessionFromClaims(raw.claims, times, v.projectID)
	if err != nil {
		return nil, err
	}
	applySchema(s, v.schema)
	return s, nil
}

// checkAudience refuses a session whose aud names none of the allowed
// audiences, when any are configured.
func (v *Verifier) checkAudience(claims map[string]any) error {
	if len(v.audiences) == 0 {
		return nil
	}
	var auds []string
	switch a := claims["aud"].(type) {
	case string:
		auds = []string{a}
	case []any:
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return bridge.Errorf(bridge.CodeInvalidClaims, "aud holds a non-string")
			}
			auds = append(auds, s)
		}
	case nil:
		return bridge.Errorf(bridge.CodeWrongAudience, "no aud, and DESCOPE_ALLOWED_AUDIENCES is set")
	default:
		return bridge.Errorf(bridge.CodeInvalidClaims, "aud is neither a string nor a list")
	}
	for _, a := range auds {
		if slices.Contains(v.audiences, a) {
			return nil
		}
	}
	return bridge.Errorf(bridge.CodeWrongAudience, "aud %q names none of DESCOPE_ALLOWED_AUDIENCES", bridge.Truncate(strings.Join(auds, ","), 120))
}

// otherProject names, for the log, the project an unverified token says it
// is from when that is not the configured one: a wrong DESCOPE_PROJECT_ID
// shows as unknown_key, and this says why.
func (v *Verifier) otherProject(claims map[string]any) string {
	iss, _ := claims["iss"].(string)
	if iss == "" || issuerMatches(iss, v.projectID) {
		return ""
	}
	proj := iss[strings.LastIndexByte(iss, '/')+1:]
	return fmt.Sprintf("; the token names Descope project %q, DESCOPE_PROJECT_ID is %q", bridge.Truncate(proj, 64), v.projectID)
}

// applySchema places the session's authorization where its JWT template's
// schema puts it. With tenantOnly the root roles and permissions are the
// current tenant's, so they become that tenant's access and grant nothing
// project-wide: a project gate sees none, a tenant gate and the tenant
// projection see them. With none the token grants nothing; any roles,
// permissions or tenants it holds anyway are ignored.
func applySchema(s *bridge.Session, schema AuthSchema) {
	switch schema {
	case SchemaTenantOnly:
		var tenants map[string]bridge.TenantAccess
		if s.CurrentTenant != "" {
			tenants = map[string]bridge.TenantAccess{s.CurrentTenant: {Roles: s.Roles, Permissions: s.Permissions}}
		}
		s.Roles, s.Permissions, s.Tenants = nil, nil, tenants
	case SchemaNone:
		s.Roles, s.Permissions, s.Tenants = nil, nil, nil
	}
}

// sessionFromClaims applies the claim rules the SDK leaves to its caller and
// builds the Session. claims must come from a verified token.
func sessionFromClaims(claims map[string]any, times timeClaims, projectID string) (*bridge.Session, error) {
	iss, _ := claims["iss"].(string)
	if !issuerMatches(iss, projectID) {
		return nil, bridge.Errorf(bridge.CodeWrongProject, "iss %q is not project %q", bridge.Truncate(iss, 80), projectID)
	}
	if drn, _ := claims["drn"].(string); drn != "DS" {
		return nil, bridge.Errorf(bridge.CodeNotSessionToken, "drn %q is not a session token", bridge.Truncate(drn, 8))
	}
	uid, _ := claims["dsub"].(string)
	if uid == "" {
		uid, _ = claims["sub"].(string)
	}
	if uid == "" {
		return nil, bridge.Errorf(bridge.CodeMissingUserID, "no dsub or sub")
	}
	s := &bridge.Session{
		UserID:    uid,
		ProjectID: projectID,
		ExpiresAt: times.exp,
		IssuedAt:  times.iat,
		AuthTime:  times.iat,
		Claims:    claims,
	}
	if at, present, ok := numericDate(claims, "auth_time"); present && ok {
		s.AuthTime = at
	}
	var err error
	if s.Roles, err = stringList(claims, "roles"); err != nil {
		return nil, err
	}
	if s.Permissions, err = stringList(claims, "permissions"); err != nil {
		return nil, err
	}
	if s.AMR, err = stringList(claims, "amr"); err != nil {
		return nil, err
	}
	if s.LoginIDs, err = stringList(claims, "loginIds"); err != nil {
		return nil, err
	}
	s.CurrentTenant, _ = claims["dct"].(string)
	s.Email, _ = claims["email"].(string)
	s.EmailVerified, _ = claims["email_verified"].(bool)
	if s.Tenants, err = tenants(claims); err != nil {
		return nil, err
	}
	return s, nil
}

// stringList reads an optional array-of-strings claim.
func stringList(claims map[string]any, name string) ([]string, error) {
	v, present := claims[name]
	if !present || v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, bridge.Errorf(bridge.CodeInvalidClaims, "%s is not an array", name)
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, bridge.Errorf(bridge.CodeInvalidClaims, "%s holds a non-string", name)
		}
		out = append(out, s)
	}
	return out, nil
}

// tenants reads Descope's tenants claim: {tenantID: {roles, permissions}}.
func tenants(claims map[string]any) (map[string]bridge.TenantAccess, error) {
	v, present := claims["tenants"]
	if !present || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, bridge.Errorf(bridge.CodeInvalidClaims, "tenants is not an object")
	}
	out := make(map[string]bridge.TenantAccess, len(m))
	for id, tv := range m {
		tm, ok := tv.(map[string]any)
		if !ok {
			return nil, bridge.Errorf(bridge.CodeInvalidClaims, "tenant entry is not an object")
		}
		var ta bridge.TenantAccess
		var err error
		if ta.Roles, err = stringList(tm, "roles"); err != nil {
			return nil, err
		}
		if ta.Permissions, err = stringList(tm, "permissions"); err != nil {
			return nil, err
		}
		out[id] = ta
	}
	return out, nil
}

// verifyRS256 checks an RSASSA-PKCS1-v1_5 SHA-256 signature over signed.
func verifyRS256(pub *rsa.PublicKey, signed string, sig []byte) bool {
	h := sha256.New()
	_, _ = io.WriteString(h, signed)
	var sum [sha256.Size]byte
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h.Sum(sum[:0]), sig) == nil
}
