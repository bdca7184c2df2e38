package bridge

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// session is a realistic verified session: project roles, two tenants with
// T1 current, MFA, a verified email and a custom JWT-template claim.
func session() *Session {
	return &Session{
		UserID:      "U2abc",
		Roles:       []string{"admin"},
		Permissions: []string{"docs.write"},
		Tenants: map[string]TenantAccess{
			"T1": {Roles: []string{"owner"}, Permissions: []string{"billing.read"}},
			"T2": {Roles: []string{"viewer"}},
		},
		CurrentTenant: "T1",
		AMR:           []string{"email", "mfa"},
		Email:         "Ada@Example.com",
		EmailVerified: true,
		LoginIDs:      []string{"ada"},
		Claims: map[string]any{
			"firebaseUid": "legacy-42",
			"plan":        "pro",
			"count":       json.Number("7"),
			"odd":         float64(1.5),
		},
	}
}

func mustParse(t *testing.T, doc string) *Mapping {
	t.Helper()
	m, err := ParseMapping([]byte(doc))
	require.NoError(t, err)
	return m
}

// mapped runs one table row: it parses doc, edits a fresh session, calls f,
// and checks the refusal code when code is set. ok says f succeeded.
func mapped[T any](t *testing.T, doc string, edit func(*Session), code Code, f func(*Mapping, *Session) (T, error)) (T, bool) {
	t.Helper()
	m := mustParse(t, doc)
	s := session()
	if edit != nil {
		edit(s)
	}
	got, err := f(m, s)
	if code != "" {
		requireCode(t, err, code)
		return got, false
	}
	require.NoError(t, err)
	return got, true
}

// requireCode checks that err is a refusal with code.
func requireCode(t *testing.T, err error, code Code) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, code, CodeOf(err))
}

func TestUIDStrategies(t *testing.T) {
	long := strings.Repeat("x", MaxUIDLength+1)
	cases := []struct {
		name    string
		doc     string
		edit    func(*Session)
		wantUID string
		code    Code
	}{
		{name: "the default is the Descope user ID", doc: `{}`, wantUID: "U2abc"},
		{name: "userId is the Descope user ID", doc: `{"uid":{"from":"userId"}}`, wantUID: "U2abc"},
		{name: "a prefix is prepended", doc: `{"uid":{"prefix":"descope:"}}`, wantUID: "descope:U2abc"},
		{name: "loginId takes the first login ID", doc: `{"uid":{"from":"loginId"}}`, wantUID: "ada"},
		{name: "loginId without login IDs is refused", doc: `{"uid":{"from":"loginId"}}`,
			edit: func(s *Session) { s.LoginIDs = nil }, code: CodeUIDUnavailable},
		{name: "loginId skips empty entries", doc: `{"uid":{"from":"loginId"}}`,
			edit: func(s *Session) { s.LoginIDs = []string{"", "b"} }, wantUID: "b"},
		{name: "email is the verified email, lower-cased", doc: `{"uid":{"from":"email"}}`, wantUID: "ada@example.com"},
		{name: "email with a prefix", doc: `{"uid":{"from":"email","prefix":"e:"}}`, wantUID: "e:ada@example.com"},
		{name: "an unverified email is refused as a UID", doc: `{"uid":{"from":"email"}}`,
			edit: func(s *Session) { s.EmailVerified = false }, code: CodeEmailNotVerified},
		{name: "a missing email is refused", doc: `{"uid":{"from":"email"}}`,
			edit: func(s *Session) { s.Email = "" }, code: CodeUIDUnavailable},
		{name: "claim reads a named string claim", doc: `{"uid":{"from":"claim","claim":"firebaseUid"}}`, wantUID: "legacy-42"},
		{name: "claim that is absent is refused", doc: `{"uid":{"from":"claim","claim":"nope"}}`, code: CodeUIDUnavailable},
		{name: "claim that is not a string is refused", doc: `{"uid":{"from":"claim","claim":"count"}}`, code: CodeUIDUnavailable},
		{name: "claim that is empty is refused", doc: `{"uid":{"from":"claim","claim":"firebaseUid"}}`,
			edit: func(s *Session) { s.Claims["firebaseUid"] = "" }, code: CodeUIDUnavailable},
		{name: "a session without a user ID is refused", doc: `{}`,
			edit: func(s *Session) { s.UserID = "" }, code: CodeMissingUserID},
		{name: "a UID over 128 bytes is refused, not truncated", doc: `{}`,
			edit: func(s *Session) { s.UserID = long }, code: CodeUIDTooLong},
		{name: "exactly 128 bytes passes", doc: `{}`,
			edit: func(s *Session) { s.UserID = long[:MaxUIDLength] }, wantUID: long[:MaxUIDLength]},
		{name: "a prefix that pushes the UID over 128 bytes is refused", doc: `{"uid":{"prefix":"descope:"}}`,
			edit: func(s *Session) { s.UserID = long[:MaxUIDLength-3] }, code: CodeUIDTooLong},
		{name: "a UID that is not UTF-8 is refused", doc: `{}`,
			edit: func(s *Session) { s.UserID = "U\xff" }, code: CodeUIDUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			uid, ok := mapped(t, tc.doc, tc.edit, tc.code, (*Mapping).UID)
			if !ok {
				assert.Empty(t, uid)
				return
			}
			assert.Equal(t, tc.wantUID, uid)
		})
	}
}

func TestClaimRules(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		edit func(*Session)
		want map[string]any
		code Code
	}{
		{
			name: "the default passes roles, permissions, tenants and dct",
			doc:  `{}`,
			want: map[string]any{
				"roles": []string{"admin"}, "permissions": []string{"docs.write"}, "dct": "T1",
				"tenants": map[string]TenantAccess{
					"T1": {Roles: []string{"owner"}, Permissions: []string{"billing.read"}},
					"T2": {Roles: []string{"viewer"}},
				},
			},
		},
		{
			name: "include picks claims, custom ones included, absent ones left out",
			doc:  `{"claims":{"include":["roles","plan","count","missing"]}}`,
			want: map[string]any{"roles": []string{"admin"}, "plan": "pro", "count": json.Number("7")},
		},
		{
			name: "an empty include passes nothing",
			doc:  `{"claims":{"include":[]}}`,
			want: map[string]any{},
		},
		{
			name: "rename gives amr a name Firebase accepts",
			doc:  `{"claims":{"include":["amr","dct"],"rename":{"amr":"authMethods","dct":"tenant"}}}`,
			want: map[string]any{"authMethods": []string{"email", "mfa"}, "tenant": "T1"},
		},
		{
			name: "rename applies to the default include",
			doc:  `{"claims":{"rename":{"roles":"descopeRoles"}}}`,
			want: map[string]any{
				"descopeRoles": []string{"admin"}, "permissions": []string{"docs.write"}, "dct": "T1",
				"tenants": session().Tenants,
			},
		},
		{
			name: "namespace nests passed claims, where amr needs no rename",
			doc:  `{"claims":{"include":["roles","amr","email","email_verified"],"namespace":"descope"}}`,
			want: map[string]any{"descope": map[string]any{
				"roles": []string{"admin"}, "amr": []string{"email", "mfa"},
				"email": "Ada@Example.com", "email_verified": true,
			}},
		},
		{
			name: "a namespace with nothing in it is left out",
			doc:  `{"claims":{"include":["plan"],"namespace":"d"}}`,
			edit: func(s *Session) { s.Claims = nil },
			want: map[string]any{},
		},
		{
			name: "static claims are added at top level, beside the namespace",
			doc:  `{"claims":{"include":["roles"],"namespace":"d","static":{"app":"shop","tier":2,"flags":{"beta":true}}}}`,
			want: map[string]any{
				"d":   map[string]any{"roles": []string{"admin"}},
				"app": "shop", "tier": json.Number("2"), "flags": map[string]any{"beta": true},
			},
		},
		{
			name: "tenant projection lifts the current tenant's roles and permissions to top level",
			doc:  `{"claims":{"include":[],"tenantProjection":{"roles":"roles","permissions":"permissions"}}}`,
			want: map[string]any{"roles": []string{"owner"}, "permissions": []string{"billing.read"}},
		},
		{
			name: "tenant projection uses the only tenant when dct is absent",
			doc:  `{"claims":{"include":[],"tenantProjection":{"roles":"tenantRoles"}}}`,
			edit: func(s *Session) {
				s.CurrentTenant = ""
				delete(s.Tenants, "T1")
			},
			want: map[string]any{"tenantRoles": []string{"viewer"}},
		},
		{
			name: "tenant projection refuses several tenants and no dct, rather than mint without the roles",
			doc:  `{"claims":{"include":[],"tenantProjection":{"roles":"tenantRoles"}}}`,
			edit: func(s *Session) { s.CurrentTenant = "" },
			code: CodeTenantNotSelected,
		},
		{
			name: "tenant projection adds nothing when dct names a tenant the user is not in",
			doc:  `{"claims":{"include":[],"tenantProjection":{"roles":"tenantRoles"}}}`,
			edit: func(s *Session) { s.CurrentTenant = "T9" },
			want: map[string]any{},
		},
		{
			name: "loginIds pass from the typed field",
			doc:  `{"claims":{"include":["loginIds"]}}`,
			want: map[string]any{"loginIds": []string{"ada"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mapped(t, tc.doc, tc.edit, tc.code, (*Mapping).Claims)
			if !ok {
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestClaimsBudget(t *testing.T) {
	big := func(n int) func(*Session) {
		return func(s *Session) {
			s.Permissions = nil
			for i := 0; i < n; i++ {
				s.Permissions = append(s.Permissions, strings.Repeat("p", 20))
			}
		}
	}
	cases := []struct {
		name     string
		doc      string
		edit     func(*Session)
		wantKeys []string
		code     Code
	}{
		{name: "claims under the limit pass whole", doc: `{}`, edit: big(10),
			wantKeys: []string{"dct", "permissions", "roles", "tenants"}},
		{name: "claims over the limit with no drop order are refused", doc: `{}`, edit: big(60), code: CodeClaimsTooLarge},
		{name: "the drop order removes claims until the rest fits",
			doc:  `{"claims":{"dropOrder":["tenants","permissions","roles"]}}`,
			edit: big(60), wantKeys: []string{"dct", "roles"}},
		{name: "claims that do not fit after every drop are refused",
			doc:  `{"claims":{"dropOrder":["tenants"]}}`,
			edit: big(60), code: CodeClaimsTooLarge},
		{name: "a drop order entry can name a claim inside the namespace",
			doc:  `{"claims":{"namespace":"d","static":{"app":"x"},"dropOrder":["d.permissions"]}}`,
			edit: big(60), wantKeys: []string{"app", "d"}},
		{name: "a drop order entry can name the whole namespace",
			doc:  `{"claims":{"namespace":"d","static":{"app":"x"},"dropOrder":["d"]}}`,
			edit: big(60), wantKeys: []string{"app"}},
		{name: "absent claims in the drop order are skipped",
			doc:  `{"claims":{"include":["permissions","plan"],"dropOrder":["plan","permissions"]}}`,
			edit: func(s *Session) { big(60)(s); delete(s.Claims, "plan") }, wantKeys: []string{}},
		{name: "a value JSON cannot encode is refused", doc: `{"claims":{"include":["odd"]}}`,
			edit: func(s *Session) { s.Claims["odd"] = make(chan int) }, code: CodeInvalidClaims},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mapped(t, tc.doc, tc.edit, tc.code, (*Mapping).Claims)
			if !ok {
				return
			}
			keys := make([]string, 0, len(got))
			for k := range got {
				keys = append(keys, k)
			}
			assert.ElementsMatch(t, tc.wantKeys, keys)
			b, err := json.Marshal(got)
			require.NoError(t, err)
			assert.LessOrEqual(t, len(b), MaxClaimsBytes)
		})
	}
}

func TestTenantMapping(t *testing.T) {
	cases := []struct {
		name   string
		doc    string
		edit   func(*Session)
		tenant string
		code   Code
	}{
		{name: "without a tenant map every session signs in to the project", doc: `{}`, tenant: ""},
		{name: "dct picks the Firebase tenant", doc: `{"tenants":{"map":{"T1":"acme-x1y2z"}}}`, tenant: "acme-x1y2z"},
		{name: "the only tenant is used when dct is absent", doc: `{"tenants":{"map":{"T2":"beta-1"}}}`,
			edit: func(s *Session) { s.CurrentTenant = ""; delete(s.Tenants, "T1") }, tenant: "beta-1"},
		{name: "an unmapped tenant signs in to the project by default", doc: `{"tenants":{"map":{"T2":"beta-1"}}}`, tenant: ""},
		{name: "an unmapped tenant is refused when configured", doc: `{"tenants":{"map":{"T2":"beta-1"},"unmapped":"refuse"}}`,
			code: CodeTenantNotMapped},
		{name: "several tenants without dct are refused as not selected", doc: `{"tenants":{"map":{"T1":"a","T2":"b"},"unmapped":"refuse"}}`,
			edit: func(s *Session) { s.CurrentTenant = "" }, code: CodeTenantNotSelected},
		{name: "several tenants without dct are refused even when unmapped ones may sign in", doc: `{"tenants":{"map":{"T1":"a","T2":"b"}}}`,
			edit: func(s *Session) { s.CurrentTenant = "" }, code: CodeTenantNotSelected},
		{name: "no tenant at all is unmapped", doc: `{"tenants":{"map":{"T1":"a"},"unmapped":"refuse"}}`,
			edit: func(s *Session) { s.CurrentTenant = ""; s.Tenants = nil }, code: CodeTenantNotMapped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, ok := mapped(t, tc.doc, tc.edit, tc.code, (*Mapping).Map)
			if ok {
				assert.Equal(t, tc.tenant, id.TenantID)
			}
		})
	}
}

// A Session built from Descope's user record maps like one from a JWT: the
// webhook connector and lifecycle sync rely on it.
func TestMappingOfSessionBuiltFromDescopeUser(t *testing.T) {
	u := &DescopeUser{
		UserID: "U9", LoginIDs: []string{"ada@example.com"}, Email: "ada@example.com", EmailVerified: true,
		Roles:            []string{"admin"},
		Tenants:          map[string]TenantAccess{"T1": {Roles: []string{"owner"}}},
		CustomAttributes: map[string]any{"firebaseUid": "legacy-7", "plan": "pro"},
		Status:           "enabled",
	}
	m := mustParse(t, `{"uid":{"from":"claim","claim":"firebaseUid"},
		"claims":{"include":["roles","plan"],"tenantProjection":{"roles":"tenantRoles"}},
		"tenants":{"map":{"T1":"acme-1"}}}`)
	id, err := m.Map(u.Session("P1"))
	require.NoError(t, err)
	assert.Equal(t, Identity{
		UID:      "legacy-7",
		TenantID: "acme-1",
		Claims:   map[string]any{"roles": []string{"admin"}, "plan": "pro", "tenantRoles": []string{"owner"}},
	}, id)
	assert.False(t, u.Disabled())
	u.Status = "disabled"
	assert.True(t, u.Disabled())
}
