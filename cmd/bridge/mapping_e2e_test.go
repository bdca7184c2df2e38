package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"firebase.google.com/go/v4/auth"
	"github.com/descope/go-sdk/descope"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/authemu"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
)

// unique makes names that do not collide with earlier runs against the same
// emulator.
func unique(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano())
}

func withTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Migration mode against the real Auth emulator: a Firebase account that
// existed before the move to Descope keeps its UID when its owner signs in
// through the bridge with a verified email, and an unverified email never
// links to it.
func TestMigrationKeepsExistingFirebaseAccounts(t *testing.T) {
	t.Parallel()
	emu := authemu.ForTest(t)
	s := startStack(t, emu.Host, nil, map[string]string{
		"IDENTITY_MAPPING": `{"migration":{"enabled":true,"uidClaim":"firebaseUid","emailFromDescope":true}}`,
	})
	admin := s.svc.firebase.Auth()

	// existing creates the account an app had before Descope: UID X, email E.
	existing := func(t *testing.T, verified bool) (uid, email string) {
		uid, email = unique("legacy-"), strings.ToLower(unique("user"))+"@example.com"
		_, err := admin.CreateUser(withTimeout(t), (&auth.UserToCreate{}).UID(uid).Email(email).EmailVerified(verified))
		require.NoError(t, err)
		return uid, email
	}
	signIn := func(t *testing.T, resp apiResponse) map[string]any {
		require.Equal(t, 200, resp.Status, "body: %s", resp.Body)
		tokens, err := emu.SignInWithCustomToken(withTimeout(t), resp.json(t)["externalToken"].(string), "")
		require.NoError(t, err)
		claims, err := authemu.Claims(tokens.IDToken)
		require.NoError(t, err)
		return claims
	}
	noAccount := func(t *testing.T, uid string) {
		_, err := admin.GetUser(withTimeout(t), uid)
		assert.True(t, auth.IsUserNotFound(err), "an account %s exists: %v", uid, err)
	}

	t.Run("a verified email in the session signs in as the existing account", func(t *testing.T) {
		x, e := existing(t, true)
		descopeID := unique("U")
		tok := s.session(t, descopestub.Session{UserID: descopeID, Roles: []string{"editor"},
			Extra: map[string]any{"email": strings.ToUpper(e), "email_verified": true}})
		resp := s.exchangeBearer(t, tok)
		claims := signIn(t, resp)
		assert.Equal(t, x, resp.json(t)["uid"])
		assert.Equal(t, x, claims["sub"], "same UID")
		assert.Equal(t, e, claims["email"], "same account: it still holds its email")
		assert.Equal(t, []any{"editor"}, claims["roles"])
		noAccount(t, descopeID)
	})
	t.Run("a session without email links through the email Descope holds", func(t *testing.T) {
		x, e := existing(t, true)
		descopeID := unique("U")
		s.stub.PutUser(descope.UserResponse{UserID: descopeID, User: descope.User{Email: e},
			LoginIDs: []string{e}, VerifiedEmail: true, Status: "enabled"})
		claims := signIn(t, s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: descopeID})))
		assert.Equal(t, x, claims["sub"])
		assert.Equal(t, e, claims["email"])
		noAccount(t, descopeID)
	})
	t.Run("an explicit firebaseUid claim links without any email", func(t *testing.T) {
		x, _ := existing(t, false)
		claims := signIn(t, s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: unique("U"),
			Extra: map[string]any{"firebaseUid": x}})))
		assert.Equal(t, x, claims["sub"])
	})
	t.Run("an unverified email does not link and mints nothing", func(t *testing.T) {
		x, e := existing(t, true)
		descopeID := unique("U")
		tok := s.session(t, descopestub.Session{UserID: descopeID,
			Extra: map[string]any{"email": e, "email_verified": false}})
		// Descope agrees the email is unverified, so the fallback finds
		// nothing better.
		s.stub.PutUser(descope.UserResponse{UserID: descopeID, User: descope.User{Email: e}, Status: "enabled"})
		resp := s.exchangeBearer(t, tok)
		assert.Equal(t, 403, resp.Status, "body: %s", resp.Body)
		assert.Equal(t, "email_not_verified", resp.errorCode(t))
		noAccount(t, descopeID)
		u, err := admin.GetUser(withTimeout(t), x)
		require.NoError(t, err)
		assert.Equal(t, e, u.Email, "the existing account is untouched")
	})
	t.Run("an existing account whose own email is unverified is not linked", func(t *testing.T) {
		_, e := existing(t, false)
		resp := s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: unique("U"),
			Extra: map[string]any{"email": e, "email_verified": true}}))
		assert.Equal(t, 403, resp.Status, "body: %s", resp.Body)
		assert.Equal(t, "account_email_not_verified", resp.errorCode(t))
	})
	t.Run("a user with no existing account gets the Descope user ID", func(t *testing.T) {
		descopeID := unique("U")
		claims := signIn(t, s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: descopeID,
			Extra: map[string]any{"email": unique("new") + "@example.com", "email_verified": true}})))
		assert.Equal(t, descopeID, claims["sub"])
	})
}

// Mapped claims and the Identity Platform tenant reach the emulator's ID
// token: the custom token carries tenant_id, sign-in happens in the tenant,
// and migration looks accounts up inside that tenant.
func TestMappedClaimsAndTenantReachTheIDToken(t *testing.T) {
	t.Parallel()
	emu := authemu.ForTest(t)
	tenantID, err := emu.CreateTenant(withTimeout(t), "acme")
	require.NoError(t, err)
	s := startStack(t, emu.Host, nil, map[string]string{
		"IDENTITY_MAPPING": fmt.Sprintf(`{
			"uid": {"prefix": "descope:"},
			"migration": {"enabled": true},
			"claims": {"include": ["roles", "amr", "plan"], "rename": {"amr": "authMethods"},
			           "static": {"app": "shop"},
			           "tenantProjection": {"roles": "tenantRoles", "permissions": "tenantPermissions"}},
			"policy": {"authMethods": {"anyOf": ["mfa"]}},
			"tenants": {"map": {"T1": %q}, "unmapped": "refuse"}
		}`, tenantID),
	})
	sess := func(userID, tenant string, extra map[string]any) string {
		return s.session(t, descopestub.Session{
			UserID: userID, Roles: []string{"admin"}, AMR: []string{"pwd", "mfa"},
			Tenants:       map[string]descopestub.TenantRoles{tenant: {Roles: []string{"owner"}, Permissions: []string{"billing.read"}}},
			CurrentTenant: tenant, Extra: extra,
		})
	}

	t.Run("a new user signs in to the mapped tenant with the mapped claims", func(t *testing.T) {
		descopeID := unique("U")
		resp := s.exchangeBearer(t, sess(descopeID, "T1", map[string]any{"plan": "pro"}))
		require.Equal(t, 200, resp.Status, "body: %s", resp.Body)
		custom := resp.json(t)["externalToken"].(string)
		ct, err := authemu.Claims(custom)
		require.NoError(t, err)
		assert.Equal(t, tenantID, ct["tenant_id"], "the custom token names the tenant")

		tokens, err := emu.SignInWithCustomToken(withTimeout(t), custom, tenantID)
		require.NoError(t, err)
		id, err := authemu.Claims(tokens.IDToken)
		require.NoError(t, err)
		assert.Equal(t, "descope:"+descopeID, id["sub"])
		fb, _ := id["firebase"].(map[string]any)
		assert.Equal(t, tenantID, fb["tenant"], "the ID token is the tenant's")
		assert.Equal(t, []any{"admin"}, id["roles"])
		assert.Equal(t, []any{"pwd", "mfa"}, id["authMethods"])
		assert.Equal(t, "pro", id["plan"])
		assert.Equal(t, "shop", id["app"])
		assert.Equal(t, []any{"owner"}, id["tenantRoles"])
		assert.Equal(t, []any{"billing.read"}, id["tenantPermissions"])
		assert.NotContains(t, id, "dct", "claims not included do not pass")
	})
	t.Run("migration finds the existing account inside the tenant", func(t *testing.T) {
		tc, err := s.svc.firebase.Auth().TenantManager.AuthForTenant(tenantID)
		require.NoError(t, err)
		x, e := unique("tenant-legacy-"), unique("t")+"@example.com"
		_, err = tc.CreateUser(withTimeout(t), (&auth.UserToCreate{}).UID(x).Email(e).EmailVerified(true))
		require.NoError(t, err)
		resp := s.exchangeBearer(t, sess(unique("U"), "T1", map[string]any{"email": e, "email_verified": true}))
		require.Equal(t, 200, resp.Status, "body: %s", resp.Body)
		tokens, err := emu.SignInWithCustomToken(withTimeout(t), resp.json(t)["externalToken"].(string), tenantID)
		require.NoError(t, err)
		id, err := authemu.Claims(tokens.IDToken)
		require.NoError(t, err)
		assert.Equal(t, x, id["sub"])
		assert.Equal(t, e, id["email"])
	})
	t.Run("an unmapped tenant is refused", func(t *testing.T) {
		resp := s.exchangeBearer(t, sess(unique("U"), "T2", nil))
		assert.Equal(t, 403, resp.Status)
		assert.Equal(t, "tenant_not_mapped", resp.errorCode(t))
	})
}

// Policy gates refuse with 403 and a code naming the gate, over HTTP.
func TestPolicyGatesOverHTTP(t *testing.T) {
	t.Parallel()
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	s := startStack(t, "", sa, map[string]string{
		"IDENTITY_MAPPING": `{"policy":{
			"roles":{"anyOf":["admin"],"in":"either"},
			"tenants":{"anyOf":["T1"]},
			"authMethods":{"anyOf":["mfa"]},
			"maxSessionAge":"1h"}}`,
	})
	ok := descopestub.Session{UserID: "U1", Roles: []string{"admin"}, AMR: []string{"mfa"},
		Tenants: map[string]descopestub.TenantRoles{"T1": {}}}
	cases := []struct {
		name string
		edit func(*descopestub.Session)
		code string
	}{
		{name: "a session meeting every gate is exchanged"},
		{name: "a session without the role is refused with role_required",
			edit: func(x *descopestub.Session) { x.Roles = []string{"viewer"} }, code: "role_required"},
		{name: "a tenant role satisfies an either-scoped gate",
			edit: func(x *descopestub.Session) {
				x.Roles = nil
				x.Tenants = map[string]descopestub.TenantRoles{"T1": {Roles: []string{"admin"}}}
			}},
		{name: "a session outside the tenants is refused with tenant_required",
			edit: func(x *descopestub.Session) { x.Tenants = map[string]descopestub.TenantRoles{"T9": {}} }, code: "tenant_required"},
		{name: "a session without MFA is refused with auth_method_required",
			edit: func(x *descopestub.Session) { x.AMR = []string{"email"} }, code: "auth_method_required"},
		{name: "an old authentication is refused with session_too_old",
			edit: func(x *descopestub.Session) {
				x.Extra = map[string]any{"auth_time": time.Now().Add(-2 * time.Hour).Unix()}
			}, code: "session_too_old"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sess := ok
			if tc.edit != nil {
				tc.edit(&sess)
			}
			resp := s.exchangeBearer(t, s.session(t, sess))
			if tc.code == "" {
				assert.Equal(t, 200, resp.Status, "body: %s", resp.Body)
				return
			}
			assert.Equal(t, 403, resp.Status, "body: %s", resp.Body)
			assert.Equal(t, tc.code, resp.errorCode(t))
		})
	}
}
