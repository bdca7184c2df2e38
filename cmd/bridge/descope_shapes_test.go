package main

import (
	"net/http"
	"testing"

	"github.com/descope/go-sdk/descope"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
)

// connectorKey is the API key of the connector's "API Key" authentication.
const connectorKey = "api-key-0123456789abcdefghij"

// shapesStack signs with a generated key, so a custom token's claims can be
// read back, and serves the connector with API-key authentication.
func shapesStack(t *testing.T, env map[string]string) (*stack, *serviceaccount.Key) {
	t.Helper()
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	all := map[string]string{
		"EXTERNAL_TOKEN_API_KEYS": "old-key-0123456789abcdef," + connectorKey,
		"RATE_LIMIT_IP_BURST":     "1000",
	}
	for k, v := range env {
		all[k] = v
	}
	s := startStack(t, "", sa, all)
	// Descope's own roles: a project role and a role scoped to tenant T1.
	s.stub.PutRole(descope.Role{Name: "editor", PermissionNames: []string{"docs.read", "docs.write"}})
	s.stub.PutRole(descope.Role{Name: "tadmin", TenantID: "T1", PermissionNames: []string{"tenant.users.manage"}})
	return s, sa
}

// realUser is a user record as Descope's management API returns it: roles,
// tenant roles, and no permissions anywhere.
func realUser(id string) descope.UserResponse {
	return descope.UserResponse{
		UserID: id, LoginIDs: []string{id + "@example.com"},
		User:          descope.User{Email: id + "@example.com", Name: "Real User"},
		VerifiedEmail: true, RoleNames: []string{"editor"}, Status: "enabled",
		UserTenants: []*descope.AssociatedTenant{{TenantID: "T1", TenantName: "Acme", Roles: []string{"tadmin"}}},
	}
}

func (s *stack) connectorCall(t *testing.T, userID, apiKey string) apiResponse {
	t.Helper()
	body, err := s.stub.ConnectorBody(userID)
	require.NoError(t, err)
	return s.do(t, http.MethodPost, "/webhook/external-token",
		map[string]string{"Content-Type": "application/json", "X-API-Key": apiKey}, body)
}

func TestConnectorAndExchangeResolvePermissionsFromRoles(t *testing.T) {
	t.Parallel()
	s, sa := shapesStack(t, map[string]string{"DESCOPE_RESOLVE_PERMISSIONS": "true"})
	s.stub.PutUser(realUser("U2real"))

	t.Run("a connector call with a real user record gets permissions from the role table", func(t *testing.T) {
		resp := s.connectorCall(t, "U2real", connectorKey)
		require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
		tok, _ := resp.json(t)["token"].(string)
		claims := verifyCustomToken(t, tok, &sa.Private.PublicKey).Claims
		assert.Equal(t, []any{"editor"}, claims["roles"])
		assert.Equal(t, []any{"docs.read", "docs.write"}, claims["permissions"])
		assert.Equal(t, map[string]any{"T1": map[string]any{"roles": []any{"tadmin"}, "permissions": []any{"tenant.users.manage"}}}, claims["tenants"])
	})
	t.Run("the same user through /exchange, with no permissions in the session, gets the same", func(t *testing.T) {
		tok := s.session(t, descopestub.Session{UserID: "U2real", Roles: []string{"editor"},
			Tenants: map[string]descopestub.TenantRoles{"T1": {Roles: []string{"tadmin"}}}})
		resp := s.exchangeBearer(t, tok)
		require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
		custom, _ := resp.json(t)["externalToken"].(string)
		claims := verifyCustomToken(t, custom, &sa.Private.PublicKey).Claims
		assert.Equal(t, []any{"docs.read", "docs.write"}, claims["permissions"])
		assert.Equal(t, map[string]any{"T1": map[string]any{"roles": []any{"tadmin"}, "permissions": []any{"tenant.users.manage"}}}, claims["tenants"])
	})
	t.Run("an API-key connector call with a wrong key is 401", func(t *testing.T) {
		resp := s.connectorCall(t, "U2real", "wrong-key-0123456789abcdef")
		assert.Equal(t, http.StatusUnauthorized, resp.Status)
		assert.Equal(t, "unauthorized", resp.errorCode(t))
		resp = s.connectorCall(t, "U2real", "")
		assert.Equal(t, http.StatusUnauthorized, resp.Status, "no key at all")
		assert.NotContains(t, s.logs.String(), connectorKey, "the key is never logged")
	})
	t.Run("the older key of a rotation still works", func(t *testing.T) {
		assert.Equal(t, http.StatusOK, s.connectorCall(t, "U2real", "old-key-0123456789abcdef").Status)
	})
}

// With a tenantOnly JWT template the root roles are the current tenant's:
// a tenant gate passes, a project gate refuses, and the tenant projection
// carries them.
func TestTenantOnlySchemaMakesRootRolesTheTenants(t *testing.T) {
	t.Parallel()
	tenantGate := `{"policy": {"roles": {"anyOf": ["tadmin"], "in": "tenant"}}, "claims": {"include": ["roles", "tenants", "dct"], "tenantProjection": {"roles": "tenantRoles"}}}`
	projectGate := `{"policy": {"roles": {"anyOf": ["tadmin"], "in": "project"}}}`
	session := descopestub.Session{UserID: "U2tenantonly", Roles: []string{"tadmin"}, CurrentTenant: "T1"}

	t.Run("the tenant gate passes and the projection carries the tenant roles", func(t *testing.T) {
		s, sa := shapesStack(t, map[string]string{"DESCOPE_JWT_AUTH_SCHEMA": "tenantOnly", "IDENTITY_MAPPING": tenantGate})
		resp := s.exchangeBearer(t, s.session(t, session))
		require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
		custom, _ := resp.json(t)["externalToken"].(string)
		claims := verifyCustomToken(t, custom, &sa.Private.PublicKey).Claims
		assert.Equal(t, []any{"tadmin"}, claims["tenantRoles"])
		assert.Nil(t, claims["roles"], "no project roles")
		assert.Equal(t, map[string]any{"T1": map[string]any{"roles": []any{"tadmin"}}}, claims["tenants"])
	})
	t.Run("the project gate refuses", func(t *testing.T) {
		s, _ := shapesStack(t, map[string]string{"DESCOPE_JWT_AUTH_SCHEMA": "tenantOnly", "IDENTITY_MAPPING": projectGate})
		resp := s.exchangeBearer(t, s.session(t, session))
		assert.Equal(t, http.StatusForbidden, resp.Status)
		assert.Equal(t, "role_required", resp.errorCode(t))
	})
	t.Run("under the default schema the same token is the other way round", func(t *testing.T) {
		s, _ := shapesStack(t, map[string]string{"IDENTITY_MAPPING": projectGate})
		assert.Equal(t, http.StatusOK, s.exchangeBearer(t, s.session(t, session)).Status)
	})
}

// With schema none the token grants nothing; with resolution on, roles come
// from the user's Descope record and permissions from the role table.
func TestNoneSchema(t *testing.T) {
	t.Parallel()
	session := descopestub.Session{UserID: "U2none", Roles: []string{"smuggled"}}
	t.Run("without resolution the custom token carries no authorization", func(t *testing.T) {
		s, sa := shapesStack(t, map[string]string{"DESCOPE_JWT_AUTH_SCHEMA": "none"})
		resp := s.exchangeBearer(t, s.session(t, session))
		require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
		custom, _ := resp.json(t)["externalToken"].(string)
		claims := verifyCustomToken(t, custom, &sa.Private.PublicKey).Claims
		assert.Nil(t, claims["roles"])
		assert.Nil(t, claims["permissions"])
	})
	t.Run("with resolution authorization comes from Descope's records", func(t *testing.T) {
		s, sa := shapesStack(t, map[string]string{"DESCOPE_JWT_AUTH_SCHEMA": "none", "DESCOPE_RESOLVE_PERMISSIONS": "true"})
		s.stub.PutUser(realUser("U2none"))
		resp := s.exchangeBearer(t, s.session(t, session))
		require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
		custom, _ := resp.json(t)["externalToken"].(string)
		claims := verifyCustomToken(t, custom, &sa.Private.PublicKey).Claims
		assert.Equal(t, []any{"editor"}, claims["roles"], "from the user record, not the token")
		assert.Equal(t, []any{"docs.read", "docs.write"}, claims["permissions"])
	})
}

// A connector call carries no amr: an authMethods gate refuses it, fail
// closed, with a start-up warning, unless the mapping skips the gate there.
func TestConnectorCallsAndGatesTheyCannotMeet(t *testing.T) {
	t.Parallel()
	t.Run("an authMethods gate refuses connector calls and start-up warns", func(t *testing.T) {
		s, _ := shapesStack(t, map[string]string{"IDENTITY_MAPPING": `{"policy": {"authMethods": {"anyOf": ["mfa"]}}}`})
		s.stub.PutUser(realUser("U2gate"))
		resp := s.connectorCall(t, "U2gate", connectorKey)
		assert.Equal(t, http.StatusForbidden, resp.Status)
		assert.Equal(t, "auth_method_required", resp.errorCode(t))
		assert.Contains(t, s.logs.String(), `"gate":"policy.authMethods (needs amr)"`)
	})
	t.Run("marked connector: skip, the gate judges only session JWTs", func(t *testing.T) {
		s, _ := shapesStack(t, map[string]string{"IDENTITY_MAPPING": `{"policy": {"authMethods": {"anyOf": ["mfa"], "connector": "skip"}}}`})
		s.stub.PutUser(realUser("U2skip"))
		assert.Equal(t, http.StatusOK, s.connectorCall(t, "U2skip", connectorKey).Status)
		assert.NotContains(t, s.logs.String(), `"gate":"policy.authMethods`)
		resp := s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: "U2skip", AMR: []string{"pwd"}}))
		assert.Equal(t, "auth_method_required", resp.errorCode(t), "a session JWT without mfa is still refused")
	})
}
