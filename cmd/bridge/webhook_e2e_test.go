package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"firebase.google.com/go/v4/auth"
	sdk "github.com/descope/go-sdk/descope"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/bridge/bridgetest"
	"github.com/dfbridge/dfbridge/emulator/authemu"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
)

const (
	auditSecret     = "audit-hmac-secret-0123456789"
	connectorSecret = "connector-hmac-secret-0123456789"
)

// webhookEnv enables both webhook routes.
var webhookEnv = map[string]string{
	"AUDIT_WEBHOOK_HMAC_SECRETS":  "retired-audit-secret-0123456789," + auditSecret,
	"EXTERNAL_TOKEN_HMAC_SECRETS": connectorSecret,
}

// deliver sends a delivery the way Descope's connector does.
func (s *stack) deliver(t *testing.T, path, secret string, body []byte) apiResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := descopestub.Deliver(ctx, s.url+path, secret, body, nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// deliverAndSettle delivers an audit body, checks it is accepted, and
// waits until the background jobs it queued have run.
func (s *stack) deliverAndSettle(t *testing.T, body []byte) {
	t.Helper()
	resp := s.deliver(t, "/webhook/audit", auditSecret, body)
	require.Equal(t, http.StatusAccepted, resp.Status, "body: %s", resp.Body)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, s.svc.lifecycle.waitIdle(ctx))
}

// signIn exchanges a Descope session at the bridge and signs in to the Auth
// emulator with the custom token, as an app does.
func (s *stack) signIn(t *testing.T, emu *authemu.Client, session string) (*authemu.Tokens, error) {
	t.Helper()
	resp := s.exchangeBearer(t, session)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	custom, _ := resp.json(t)["externalToken"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return emu.SignInWithCustomToken(ctx, custom, "")
}

func uniqueUser(prefix string) string {
	return prefix + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "")
}

func emulatorMessage(err error) string {
	var e *authemu.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// A Descope user deleted while signed in loses the Firebase session: after
// the signed UserDeleted delivery, no fresh bridge token signs in, the
// earlier refresh token no longer refreshes, and the earlier ID token fails
// the Admin SDK's revocation check, even once an admin re-enables the
// account. A replay of the delivery changes nothing.
func TestUserDeletedEndsTheFirebaseSession(t *testing.T) {
	t.Parallel()
	emu := authemu.ForTest(t)
	s := startStack(t, emu.Host, nil, webhookEnv)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fb := s.svc.firebase.Auth()

	userID := uniqueUser("Udeleted")
	s.stub.PutUser(sdk.UserResponse{UserID: userID, LoginIDs: []string{userID + "@example.com"}, RoleNames: []string{"viewer"}, Status: "enabled"})
	session := s.session(t, descopestub.Session{UserID: userID, Roles: []string{"viewer"}})
	before, err := s.signIn(t, emu, session)
	require.NoError(t, err)
	authemu.WaitPastIssuedSecond(t, before.IDToken)

	s.stub.DeleteUser(userID)
	delivery, err := s.stub.AuditDelivery(descopestub.AuditEvent{
		Action: "UserDeleted", UserID: userID, LoginIDs: []string{userID + "@example.com"}, ActorID: "K2mgmtkey",
	})
	require.NoError(t, err)
	s.deliverAndSettle(t, delivery)
	assert.Equal(t, float64(1), testutil.ToFloat64(s.svc.metrics.LifecycleJobs.WithLabelValues("user", "disabled")))

	t.Run("the still-valid session is refused by the bridge with user_removed", func(t *testing.T) {
		resp := s.exchangeBearer(t, session)
		assert.Equal(t, http.StatusForbidden, resp.Status)
		assert.Equal(t, "user_removed", resp.errorCode(t))
	})
	t.Run("the earlier refresh token fails with USER_DISABLED", func(t *testing.T) {
		_, err := emu.Refresh(ctx, before.RefreshToken)
		assert.Equal(t, "USER_DISABLED", emulatorMessage(err), "got %v", err)
	})
	t.Run("the earlier ID token fails the revocation check", func(t *testing.T) {
		_, err := fb.VerifyIDTokenAndCheckRevoked(ctx, before.IDToken)
		assert.True(t, auth.IsUserDisabled(err), "got %v", err)
	})
	t.Run("re-enabling the account does not bring the earlier ID token back: it was revoked", func(t *testing.T) {
		_, err := fb.UpdateUser(ctx, userID, (&auth.UserToUpdate{}).Disabled(false))
		require.NoError(t, err)
		_, err = fb.VerifyIDTokenAndCheckRevoked(ctx, before.IDToken)
		assert.True(t, auth.IsIDTokenRevoked(err), "got %v", err)
	})
	t.Run("a replayed delivery is answered and changes nothing", func(t *testing.T) {
		resp := s.deliver(t, "/webhook/audit", auditSecret, delivery)
		require.Equal(t, http.StatusAccepted, resp.Status, "body: %s", resp.Body)
		assert.Equal(t, "duplicate", resp.json(t)["status"])
		u, err := fb.GetUser(ctx, userID)
		require.NoError(t, err)
		assert.False(t, u.Disabled, "the replay did not act again")
	})
}

// A role removed in Descope leaves the user's Firebase claims: the signed
// UserModified delivery makes the bridge re-read the user (ignoring what the
// payload says), write the new persistent custom claims, and revoke the
// sessions that carried the old role. The next ID token carries the new
// claims.
func TestUserModifiedRemovingARoleChangesTheClaims(t *testing.T) {
	t.Parallel()
	emu := authemu.ForTest(t)
	s := startStack(t, emu.Host, nil, webhookEnv)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fb := s.svc.firebase.Auth()

	s.stub.PutRole(sdk.Role{Name: "admin", PermissionNames: []string{"docs.delete", "docs.write"}})
	s.stub.PutRole(sdk.Role{Name: "editor", PermissionNames: []string{"docs.write"}})
	userID := uniqueUser("Umodified")
	s.stub.PutUser(sdk.UserResponse{UserID: userID, RoleNames: []string{"admin", "editor"}, Status: "enabled",
		User: sdk.User{Email: strings.ToLower(userID) + "@example.com", Name: "Ada"}, VerifiedEmail: true})
	session := s.session(t, descopestub.Session{UserID: userID, Roles: []string{"admin", "editor"}, Permissions: []string{"docs.delete", "docs.write"}})
	before, err := s.signIn(t, emu, session)
	require.NoError(t, err)
	claims, err := authemu.Claims(before.IDToken)
	require.NoError(t, err)
	require.Equal(t, []any{"admin", "editor"}, claims["roles"])
	authemu.WaitPastIssuedSecond(t, before.IDToken)

	require.True(t, s.stub.UpdateUser(userID, func(u *sdk.UserResponse) { u.RoleNames = []string{"editor"} }))
	delivery, err := s.stub.AuditDelivery(descopestub.AuditEvent{Action: "UserModified", UserID: userID,
		// The payload is not trusted for state: this stale "change" is ignored.
		Data: map[string]any{"Change": map[string]any{"roleNames": []string{"admin", "editor"}}}})
	require.NoError(t, err)
	s.deliverAndSettle(t, delivery)
	assert.Equal(t, float64(1), testutil.ToFloat64(s.svc.metrics.LifecycleJobs.WithLabelValues("user", "revoked")))

	want := map[string]any{"roles": []any{"editor"}, "permissions": []any{"docs.write"}, bridge.MarkerClaim: userID}
	t.Run("the account's persistent custom claims are the new mapping", func(t *testing.T) {
		u, err := fb.GetUser(ctx, userID)
		require.NoError(t, err)
		assert.Equal(t, want, bridgetest.WithoutOwnerRecord(u.CustomClaims))
		assert.Equal(t, "Ada", u.DisplayName)
		assert.Equal(t, strings.ToLower(userID)+"@example.com", u.Email)
	})
	t.Run("the ID token that carried the old role fails the revocation check", func(t *testing.T) {
		_, err := fb.VerifyIDTokenAndCheckRevoked(ctx, before.IDToken)
		assert.True(t, auth.IsIDTokenRevoked(err), "got %v", err)
	})
	t.Run("the next ID token carries the new claims", func(t *testing.T) {
		// A sign-in whose custom token carries no claims of its own (any
		// sign-in but the bridge's) sees exactly the persistent claims.
		custom, err := fb.CustomToken(ctx, userID)
		require.NoError(t, err)
		next, err := emu.SignInWithCustomToken(ctx, custom, "")
		require.NoError(t, err)
		claims, err := authemu.Claims(next.IDToken)
		require.NoError(t, err)
		assert.Equal(t, want["roles"], claims["roles"])
		assert.Equal(t, want["permissions"], claims["permissions"])
	})
	t.Run("a second delivery of the same state changes nothing", func(t *testing.T) {
		again, err := s.stub.AuditDelivery(descopestub.AuditEvent{Action: "UserModified", UserID: userID})
		require.NoError(t, err)
		s.deliverAndSettle(t, again)
		assert.Equal(t, float64(1), testutil.ToFloat64(s.svc.metrics.LifecycleJobs.WithLabelValues("user", "unchanged")))
	})
}

// Descope's Generic HTTP Token connector, pointed at the bridge, gets a
// token the Auth emulator accepts for the user it posted.
func TestExternalTokenSignsInToAuthEmulator(t *testing.T) {
	t.Parallel()
	emu := authemu.ForTest(t)
	s := startStack(t, emu.Host, nil, webhookEnv)
	userID := uniqueUser("Uconnector")
	s.stub.PutUser(sdk.UserResponse{
		UserID: userID, LoginIDs: []string{"ada@example.com"}, Status: "enabled",
		User: sdk.User{Email: "ada@example.com", Name: "Ada"}, VerifiedEmail: true,
		RoleNames:   []string{"admin"},
		UserTenants: []*sdk.AssociatedTenant{{TenantID: "T1", TenantName: "Acme", Roles: []string{"owner"}}},
	})
	body, err := s.stub.ConnectorBody(userID)
	require.NoError(t, err)

	resp := s.deliver(t, "/webhook/external-token", connectorSecret, body)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	token, _ := resp.json(t)["token"].(string)
	require.NotEmpty(t, token)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	signed, err := emu.SignInWithCustomToken(ctx, token, "")
	require.NoError(t, err)
	claims, err := authemu.Claims(signed.IDToken)
	require.NoError(t, err)
	assert.Equal(t, userID, claims["sub"])
	assert.Equal(t, []any{"admin"}, claims["roles"])
	assert.Equal(t, map[string]any{"T1": map[string]any{"roles": []any{"owner"}}}, claims["tenants"])
	assert.NotContains(t, s.logs.String(), token)
	assert.NotContains(t, s.logs.String(), connectorSecret)

	t.Run("the same call signed with the audit connector's secret is refused", func(t *testing.T) {
		resp := s.deliver(t, "/webhook/external-token", auditSecret, body)
		assert.Equal(t, http.StatusUnauthorized, resp.Status)
		assert.Equal(t, "unauthorized", resp.errorCode(t))
	})
}

// With no secret configured, neither webhook route exists: an
// unauthenticated connector route would mint tokens for anyone.
func TestWebhookRoutesNeedASecret(t *testing.T) {
	t.Parallel()
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	s := startStack(t, "", sa, nil)
	for _, path := range []string{"/webhook/external-token", "/webhook/audit"} {
		t.Run(path, func(t *testing.T) {
			body := []byte(`{"userId":"U1"}`)
			resp := s.do(t, http.MethodPost, path, map[string]string{
				"Content-Type":           "application/json",
				"X-Descope-Webhook-S256": descopestub.WebhookSignature("", body),
			}, body)
			assert.Equal(t, http.StatusNotFound, resp.Status)
			assert.Equal(t, "not_found", resp.errorCode(t))
		})
	}
}

func TestWebhookConfig(t *testing.T) {
	base := map[string]string{
		"DESCOPE_PROJECT_ID":     testProject,
		"FIREBASE_PROJECT_ID":    "demo-dfbridge",
		"DESCOPE_MANAGEMENT_KEY": "mgmt-secret",
	}
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"several secrets are accepted for rotation", map[string]string{"AUDIT_WEBHOOK_HMAC_SECRETS": auditSecret + "," + connectorSecret}, ""},
		{"a short secret is refused", map[string]string{"EXTERNAL_TOKEN_HMAC_SECRETS": "tiny-secret"}, "EXTERNAL_TOKEN_HMAC_SECRETS"},
		{"an empty secret in the list is refused", map[string]string{"AUDIT_WEBHOOK_BEARER_SECRETS": auditSecret + ","}, "AUDIT_WEBHOOK_BEARER_SECRETS"},
		{"a padded secret is refused", map[string]string{"EXTERNAL_TOKEN_BEARER_SECRETS": " " + connectorSecret}, "EXTERNAL_TOKEN_BEARER_SECRETS"},
		{"the audit webhook needs a management key", map[string]string{"AUDIT_WEBHOOK_HMAC_SECRETS": auditSecret, "DESCOPE_MANAGEMENT_KEY": ""}, "DESCOPE_MANAGEMENT_KEY"},
		{"an unknown deletion policy is refused", map[string]string{"AUDIT_WEBHOOK_ON_USER_DELETED": "archive"}, "AUDIT_WEBHOOK_ON_USER_DELETED"},
		{"a dedupe window of zero is refused", map[string]string{"AUDIT_WEBHOOK_DEDUPE_WINDOW": "0s"}, "AUDIT_WEBHOOK_DEDUPE_WINDOW"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range base {
				t.Setenv(k, v)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := loadConfig()
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.True(t, cfg.auditWebhookEnabled())
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			for k, v := range tc.env {
				if strings.HasSuffix(k, "_SECRETS") {
					for _, secret := range strings.Split(v, ",") {
						if secret = strings.TrimSpace(secret); secret != "" {
							assert.NotContains(t, err.Error(), secret, "the error never echoes a secret")
						}
					}
				}
			}
		})
	}
}

// A role's permissions edited at Descope reach the persistent claims of
// every holder: the permission event names no role, so the bridge refreshes
// the role table, finds the role that changed, pages Descope's user search
// for its holders and re-syncs each; a user without the role is untouched.
func TestRoleEventUpdatesEveryHoldersClaims(t *testing.T) {
	t.Parallel()
	emu := authemu.ForTest(t)
	s := startStack(t, emu.Host, nil, map[string]string{"AUDIT_WEBHOOK_HMAC_SECRETS": auditSecret})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fb := s.svc.firebase.Auth()

	role, other := uniqueUser("rEditor"), uniqueUser("rViewer")
	s.stub.PutRole(sdk.Role{Name: role, PermissionNames: []string{"docs.read"}})
	s.stub.PutRole(sdk.Role{Name: other, PermissionNames: []string{"docs.list"}})
	holders := []string{uniqueUser("Uholder1"), uniqueUser("Uholder2"), uniqueUser("Uholder3")}
	bystander := uniqueUser("Ubystander")
	for _, id := range append(append([]string{}, holders...), bystander) {
		r := role
		if id == bystander {
			r = other
		}
		s.stub.PutUser(sdk.UserResponse{UserID: id, LoginIDs: []string{id}, RoleNames: []string{r}, Status: "enabled"})
		_, err := s.signIn(t, emu, s.session(t, descopestub.Session{UserID: id, Roles: []string{r}}))
		require.NoError(t, err)
	}
	deliverAndSettle := func(events ...descopestub.AuditEvent) {
		t.Helper()
		body, err := s.stub.AuditDelivery(events...)
		require.NoError(t, err)
		s.deliverAndSettle(t, body)
	}
	// A first role event loads the table and syncs the role it names.
	deliverAndSettle(descopestub.AuditEvent{Action: "RoleModified", Data: map[string]any{"roleName": other}})
	u, err := fb.GetUser(ctx, bystander)
	require.NoError(t, err)
	assert.Equal(t, []any{"docs.list"}, u.CustomClaims["permissions"], "the named role's holder is synced")

	s.stub.PutRole(sdk.Role{Name: role, PermissionNames: []string{"docs.read", "docs.write"}})
	deliverAndSettle(descopestub.AuditEvent{Action: "PermissionCreated", Data: map[string]any{"permissionName": "docs.write"}})
	for _, id := range holders {
		u, err := fb.GetUser(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, []any{"docs.read", "docs.write"}, u.CustomClaims["permissions"], "%s carries the edited role's permissions", id)
		assert.Equal(t, []any{role}, u.CustomClaims["roles"])
	}
	u, err = fb.GetUser(ctx, bystander)
	require.NoError(t, err)
	assert.Equal(t, []any{"docs.list"}, u.CustomClaims["permissions"], "a user without the role is untouched")
}
