package bridge

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every mistake a mapping document can hold is refused when it loads, with
// one line that names the field.
func TestParseMappingRefusals(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want string
	}{
		{"a document that is not JSON", `{uid`, "not a valid mapping document"},
		{"a document that is not an object", `[]`, "not a valid mapping document"},
		{"trailing data after the object", `{} {}`, "trailing data"},
		{"an unknown field (a typo)", `{"claim":{}}`, `unknown field "claim"`},
		{"an unknown nested field", `{"uid":{"form":"email"}}`, `unknown field "form"`},
		{"an unknown UID strategy", `{"uid":{"from":"phone"}}`, "uid.from"},
		{"claim strategy without a claim name", `{"uid":{"from":"claim"}}`, "uid.claim: required"},
		{"a claim name with another strategy", `{"uid":{"from":"email","claim":"x"}}`, "uid.claim: only used"},
		{"a prefix that fills the UID", `{"uid":{"prefix":"` + strings.Repeat("p", 128) + `"}}`, "uid.prefix"},
		{"amr passed at top level without a rename", `{"claims":{"include":["amr"]}}`, `claims.include: "amr" is reserved by Firebase`},
		{"a rename to a reserved name", `{"claims":{"include":["dct"],"rename":{"dct":"sub"}}}`, `claims.rename: "sub" is reserved`},
		{"a rename of a claim not included", `{"claims":{"include":["roles"],"rename":{"amr":"m"}}}`, `claims.rename: "amr" is not in claims.include`},
		{"a rename to an empty name", `{"claims":{"include":["roles"],"rename":{"roles":""}}}`, "is empty"},
		{"an empty include entry", `{"claims":{"include":[""]}}`, "claims.include: a claim name is empty"},
		{"an include listed twice", `{"claims":{"include":["roles","roles"]}}`, "listed twice"},
		{"two claims renamed to one name", `{"claims":{"include":["roles","dct"],"rename":{"dct":"roles"}}}`, "also produced by"},
		{"two namespaced claims renamed to one name", `{"claims":{"namespace":"d","include":["roles","dct"],"rename":{"dct":"roles"}}}`, "two claims are named"},
		{"a reserved namespace", `{"claims":{"namespace":"firebase"}}`, `claims.namespace: "firebase" is reserved`},
		{"a reserved static claim", `{"claims":{"static":{"iss":"me"}}}`, `claims.static: "iss" is reserved`},
		{"a static claim that collides with a passed one", `{"claims":{"static":{"roles":["x"]}}}`, `claims.static: "roles" is also produced by claims.include`},
		{"a static claim that collides with the namespace", `{"claims":{"namespace":"d","static":{"d":1}}}`, "also produced by claims.namespace"},
		{"a null static claim", `{"claims":{"static":{"x":null}}}`, "is null"},
		{"static claims over the budget on their own", `{"claims":{"static":{"x":"` + strings.Repeat("a", 1000) + `"}}}`, "claims.static: encodes to more than"},
		{"an empty tenant projection", `{"claims":{"tenantProjection":{}}}`, "claims.tenantProjection"},
		{"a projection that collides with a passed claim", `{"claims":{"tenantProjection":{"roles":"roles"}}}`, `claims.tenantProjection.roles: "roles" is also produced`},
		{"a reserved projection name", `{"claims":{"tenantProjection":{"permissions":"aud"}}}`, "reserved"},
		{"a drop order entry the mapping never produces", `{"claims":{"dropOrder":["nope"]}}`, `claims.dropOrder: "nope" is no claim`},
		{"a drop order entry listed twice", `{"claims":{"dropOrder":["roles","roles"]}}`, "listed twice"},
		{"a drop order entry that is ambiguous",
			`{"claims":{"namespace":"d","include":["x"],"static":{"d.x":1},"dropOrder":["d.x"]}}`, "ambiguous"},
		{"migration that can find nothing", `{"migration":{"enabled":true,"byEmail":false}}`, "set uidClaim or byEmail"},
		{"emailFromDescope without byEmail", `{"migration":{"enabled":true,"uidClaim":"f","byEmail":false,"emailFromDescope":true}}`, "only used with byEmail"},
		{"a cache TTL over an hour", `{"migration":{"enabled":true,"cacheTtl":"2h"}}`, "migration.cacheTtl"},
		{"a cache TTL that is not a duration", `{"migration":{"enabled":true,"cacheTtl":"soon"}}`, "not a duration"},
		{"a cache TTL that is a number", `{"migration":{"enabled":true,"cacheTtl":60}}`, "must be a string"},
		{"a negative cache size", `{"migration":{"enabled":true,"cacheSize":-1}}`, "migration.cacheSize"},
		{"a huge cache size", `{"migration":{"enabled":true,"cacheSize":100000000}}`, "migration.cacheSize"},
		{"a gate with nothing required", `{"policy":{"roles":{}}}`, "policy.roles: set anyOf or allOf"},
		{"a gate with an empty name", `{"policy":{"permissions":{"anyOf":[""]}}}`, "policy.permissions: a name is empty"},
		{"an unknown scope", `{"policy":{"roles":{"anyOf":["a"],"in":"org"}}}`, "policy.roles.in"},
		{"a scope on a gate that has none", `{"policy":{"authMethods":{"anyOf":["mfa"],"in":"tenant"}}}`, "policy.authMethods.in"},
		{"a negative session age", `{"policy":{"maxSessionAge":"-1h"}}`, "policy.maxSessionAge"},
		{"an empty tenant map", `{"tenants":{"map":{}}}`, "tenants.map: map at least one"},
		{"a Firebase tenant ID with a slash", `{"tenants":{"map":{"T1":"a/b"}}}`, "is not a Firebase tenant ID"},
		{"an empty Descope tenant ID", `{"tenants":{"map":{"":"a"}}}`, "a Descope tenant ID is empty"},
		{"an unknown unmapped rule", `{"tenants":{"map":{"T1":"a"},"unmapped":"drop"}}`, "tenants.unmapped"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			m, err := ParseMapping([]byte(tc.doc))
			require.Error(t, err)
			assert.Nil(t, m)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\n", "a config error is one line")
		})
	}
}

func TestParseMappingAccepts(t *testing.T) {
	t.Run("a full document loads with every part in force", func(t *testing.T) {
		m, err := ParseMapping([]byte(`{
			"uid": {"from": "userId", "prefix": "d:"},
			"migration": {"enabled": true, "uidClaim": "firebaseUid", "emailFromDescope": true, "cacheTtl": "2m", "cacheSize": 50},
			"claims": {"include": ["roles", "amr", "plan"], "rename": {"amr": "authMethods"},
			           "static": {"app": "shop"}, "tenantProjection": {"roles": "tenantRoles"},
			           "dropOrder": ["plan"]},
			"policy": {"roles": {"anyOf": ["admin"], "in": "either"}, "authMethods": {"allOf": ["mfa"]}, "maxSessionAge": "12h"},
			"tenants": {"map": {"T1": "acme-x1y2z"}, "unmapped": "refuse"}
		}`))
		require.NoError(t, err)
		assert.Equal(t, &MigrationConfig{
			UIDClaim: "firebaseUid", ByEmail: true, EmailFromDescope: true,
			RequireVerifiedAccountEmail: true, CacheTTL: 2 * time.Minute, CacheSize: 50,
		}, m.Migration())
		id, err := m.Map(session())
		require.NoError(t, err)
		assert.Equal(t, "d:U2abc", id.UID)
		assert.Equal(t, "acme-x1y2z", id.TenantID)
		assert.Equal(t, map[string]any{
			"roles": []string{"admin"}, "authMethods": []string{"email", "mfa"}, "plan": "pro",
			"app": "shop", "tenantRoles": []string{"owner"},
		}, id.Claims)
		assert.Equal(t, 12*time.Hour, m.policy.MaxSessionAge)
		assert.Equal(t, ScopeEither, m.policy.Roles.In)
	})
	t.Run("migration defaults to email look-ups, verified accounts and a bounded cache", func(t *testing.T) {
		m, err := ParseMapping([]byte(`{"migration":{"enabled":true}}`))
		require.NoError(t, err)
		assert.Equal(t, &MigrationConfig{
			ByEmail: true, RequireVerifiedAccountEmail: true,
			CacheTTL: DefaultMigrationCacheTTL, CacheSize: DefaultMigrationCacheSize,
		}, m.Migration())
	})
	t.Run("a migration section that is not enabled leaves migration off", func(t *testing.T) {
		m, err := ParseMapping([]byte(`{"migration":{"enabled":false,"uidClaim":"x"}}`))
		require.NoError(t, err)
		assert.Nil(t, m.Migration())
	})
	t.Run("an empty document is the default mapping", func(t *testing.T) {
		m, err := ParseMapping([]byte(`{}`))
		require.NoError(t, err)
		assert.Equal(t, DefaultMapping(), m)
	})
}

// A mapping that does not decode is described in the document's terms:
// where the error is and what was expected, never Go's struct names.
func TestMappingDecodeErrorsSayWhereAndWhat(t *testing.T) {
	cases := map[string]string{
		`{"claims":{"include":"roles"}}`: "claims.include: expected a list, found a string",
		`{"uid":{"from":5}}`:             "uid.from: expected a string, found a number",
		`{"claims":{"rename":["x"]}}`:    "claims.rename: expected an object, found a list",
		`{"nope":1}`:                     `unknown field "nope"`,
		`{"claims":`:                     "the JSON ends early",
	}
	for doc, want := range cases {
		t.Run(doc, func(t *testing.T) {
			_, err := ParseMapping([]byte(doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
			assert.NotContains(t, err.Error(), "Go struct")
			assert.NotContains(t, err.Error(), "claimsDoc")
		})
	}
}
