package bridge

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPolicyGates(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	authed := func(ago time.Duration) func(*Session) {
		return func(s *Session) { s.AuthTime = now.Add(-ago) }
	}
	cases := []struct {
		name   string
		policy string
		edit   func(*Session)
		code   Code // "" means the session passes
	}{
		{name: "no policy lets every session through", policy: `{}`},
		{name: "a project role in anyOf passes", policy: `{"roles":{"anyOf":["admin","root"]}}`},
		{name: "no project role in anyOf is refused", policy: `{"roles":{"anyOf":["root"]}}`, code: CodeRoleRequired},
		{name: "a tenant role does not satisfy a project gate", policy: `{"roles":{"anyOf":["owner"]}}`, code: CodeRoleRequired},
		{name: "a tenant role satisfies a tenant gate", policy: `{"roles":{"anyOf":["owner"],"in":"tenant"}}`},
		{name: "a role of another tenant does not satisfy a tenant gate", policy: `{"roles":{"anyOf":["viewer"],"in":"tenant"}}`, code: CodeRoleRequired},
		{name: "a tenant gate with no current tenant is refused", policy: `{"roles":{"anyOf":["owner"],"in":"tenant"}}`,
			edit: func(s *Session) { s.CurrentTenant = "" }, code: CodeRoleRequired},
		{name: "either scope takes project and tenant roles together", policy: `{"roles":{"allOf":["admin","owner"],"in":"either"}}`},
		{name: "either scope without a tenant looks at project roles", policy: `{"roles":{"anyOf":["admin"],"in":"either"}}`,
			edit: func(s *Session) { s.CurrentTenant = "" }},
		{name: "allOf needs every role", policy: `{"roles":{"allOf":["admin","root"]}}`, code: CodeRoleRequired},
		{name: "anyOf and allOf both apply", policy: `{"roles":{"allOf":["admin"],"anyOf":["root"]}}`, code: CodeRoleRequired},
		{name: "a permission gate passes on a project permission", policy: `{"permissions":{"allOf":["docs.write"]}}`},
		{name: "a missing permission is refused", policy: `{"permissions":{"anyOf":["docs.delete"]}}`, code: CodePermissionRequired},
		{name: "a tenant permission passes a tenant gate", policy: `{"permissions":{"anyOf":["billing.read"],"in":"tenant"}}`},
		{name: "membership in a listed tenant passes", policy: `{"tenants":{"anyOf":["T2","T7"]}}`},
		{name: "membership in no listed tenant is refused", policy: `{"tenants":{"anyOf":["T7"]}}`, code: CodeTenantRequired},
		{name: "allOf tenants needs every membership", policy: `{"tenants":{"allOf":["T1","T7"]}}`, code: CodeTenantRequired},
		{name: "a session with no tenants fails a tenant gate", policy: `{"tenants":{"anyOf":["T1"]}}`,
			edit: func(s *Session) { s.Tenants = nil; s.CurrentTenant = "" }, code: CodeTenantRequired},
		{name: "mfa in amr passes an MFA gate", policy: `{"authMethods":{"anyOf":["mfa"]}}`},
		{name: "no mfa in amr is refused", policy: `{"authMethods":{"anyOf":["mfa"]}}`,
			edit: func(s *Session) { s.AMR = []string{"email"} }, code: CodeAuthMethodRequired},
		{name: "no amr at all is refused", policy: `{"authMethods":{"anyOf":["mfa"]}}`,
			edit: func(s *Session) { s.AMR = nil }, code: CodeAuthMethodRequired},
		{name: "a recent authentication passes the age gate", policy: `{"maxSessionAge":"1h"}`, edit: authed(59 * time.Minute)},
		{name: "an old authentication is refused", policy: `{"maxSessionAge":"1h"}`, edit: authed(61 * time.Minute), code: CodeSessionTooOld},
		{name: "a session with no authentication time is refused by the age gate", policy: `{"maxSessionAge":"1h"}`,
			edit: func(s *Session) { s.AuthTime = time.Time{} }, code: CodeSessionTooOld},
		{name: "the first failing gate names the refusal", policy: `{"roles":{"anyOf":["admin"]},"authMethods":{"anyOf":["webauthn"]},"maxSessionAge":"1m"}`,
			edit: authed(time.Hour), code: CodeAuthMethodRequired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, `{"policy":`+tc.policy+`}`)
			s := session()
			s.AuthTime = now.Add(-time.Minute)
			if tc.edit != nil {
				tc.edit(s)
			}
			err := m.Check(s, now)
			if tc.code == "" {
				assert.NoError(t, err)
				return
			}
			requireCode(t, err, tc.code)
		})
	}
}

// The either scope must not write tenant roles into the session's own
// project roles (append on a shared slice would).
func TestEitherScopeLeavesSessionUntouched(t *testing.T) {
	s := session()
	s.Roles = make([]string, 1, 8)
	s.Roles[0] = "admin"
	m := mustParse(t, `{"policy":{"roles":{"anyOf":["owner"],"in":"either"}}}`)
	require.NoError(t, m.Check(s, time.Now()))
	assert.Equal(t, []string{"admin"}, s.Roles)
	extended := s.Roles[:2]
	assert.Empty(t, extended[1], "the spare capacity was written to")
}
