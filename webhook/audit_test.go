package webhook_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/bridge/bridgetest"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/metrics"
	"github.com/dfbridge/dfbridge/webhook"
)

// auditFixture is the audit handler over in-memory Descope users and
// Firebase accounts (so a test can make either fail on demand).
type auditFixture struct {
	h        http.Handler
	users    *bridgetest.Users
	accounts *bridgetest.Accounts
	metrics  *metrics.Metrics
	logs     *logBuffer
	stub     *descopestub.Stub
}

func newAudit(t *testing.T, revokeOnMaxAttempts bool) *auditFixture {
	t.Helper()
	f := &auditFixture{users: bridgetest.NewUsers(), accounts: bridgetest.NewAccounts(), metrics: metrics.New()}
	log, logs := newLogger()
	f.logs = logs
	stub, err := descopestub.New(descopestub.Options{ProjectID: project, KeyBits: 1024})
	require.NoError(t, err)
	f.stub = stub
	f.h = webhook.HandleAudit(webhook.AuditConfig{
		ProjectID: project,
		Secrets:   webhook.NewSecrets([]string{hmacSecret}, nil),
		Lifecycle: &bridge.Lifecycle{
			ProjectID:  project,
			Users:      f.users,
			Accounts:   f.accounts,
			Identities: &bridge.Exchanger{Mapping: bridge.DefaultMapping()},
		},
		RevokeOnMaxAttempts: revokeOnMaxAttempts,
		DedupeSize:          100,
		DedupeWindow:        time.Hour,
		Log:                 log,
		Metrics:             f.metrics,
	})
	return f
}

// signedIn puts a Firebase account for a user who signed in through the
// bridge, with the claims the bridge last wrote.
func (f *auditFixture) signedIn(uid string, roles ...any) {
	var claims map[string]any
	if len(roles) > 0 {
		claims = map[string]any{"roles": roles}
	}
	f.accounts.Put(bridge.AccountRef{UID: uid}, bridge.Account{Claims: claims})
}

func (f *auditFixture) account(t *testing.T, uid string) bridgetest.Account {
	t.Helper()
	a, ok := f.accounts.Get(bridge.AccountRef{UID: uid})
	require.True(t, ok, "account %s exists", uid)
	return a
}

func (f *auditFixture) delivery(t *testing.T, events ...descopestub.AuditEvent) []byte {
	t.Helper()
	b, err := f.stub.AuditDelivery(events...)
	require.NoError(t, err)
	return b
}

func TestAuditUserDeletedDisablesAndRevokes(t *testing.T) {
	f := newAudit(t, true)
	f.signedIn("U1", "admin")
	body := f.delivery(t, descopestub.AuditEvent{Action: "UserDeleted", UserID: "U1", LoginIDs: []string{"u1@example.com"}})

	r := deliver(t, f.h, hmacSecret, body, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %v", r.Body)
	assert.Equal(t, "processed", r.Body["status"])
	assert.Equal(t, map[string]any{"disabled": float64(1)}, r.Body["outcomes"])
	acct := f.account(t, "U1")
	assert.True(t, acct.Disabled)
	assert.Equal(t, 1, acct.Revocations)
	assert.Equal(t, float64(1), testutil.ToFloat64(f.metrics.WebhookEvents.WithLabelValues("UserDeleted", "disabled")))

	t.Run("a replayed delivery changes nothing, even after an admin re-enabled the account", func(t *testing.T) {
		enabled := false
		require.NoError(t, f.accounts.UpdateAccount(t.Context(), bridge.AccountRef{UID: "U1"}, bridge.AccountUpdate{Disabled: &enabled}))
		r := deliver(t, f.h, hmacSecret, body, nil)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "duplicate", r.Body["status"])
		acct := f.account(t, "U1")
		assert.False(t, acct.Disabled)
		assert.Equal(t, 1, acct.Revocations)
		assert.Equal(t, float64(1), testutil.ToFloat64(f.metrics.WebhookEvents.WithLabelValues("audit_delivery", "duplicate")))
	})
}

func TestAuditBatchDeletionEndsEveryAccount(t *testing.T) {
	f := newAudit(t, true)
	for _, uid := range []string{"U1", "U2", "U3"} {
		f.signedIn(uid, "viewer")
	}
	body := f.delivery(t,
		descopestub.AuditEvent{Action: "UsersDeleted", Data: map[string]any{"userIds": []string{"U1", "U2"}}},
		descopestub.AuditEvent{Action: "UsersDeleted", Data: map[string]any{"users": []any{map[string]any{"userId": "U3"}, "U1"}}},
	)
	r := deliver(t, f.h, hmacSecret, body, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %v", r.Body)
	assert.Equal(t, map[string]any{"disabled": float64(3)}, r.Body["outcomes"], "U1 named twice is ended once")
	for _, uid := range []string{"U1", "U2", "U3"} {
		assert.True(t, f.account(t, uid).Disabled, uid)
	}
}

func TestAuditUserModifiedSyncsFromDescopeNotThePayload(t *testing.T) {
	f := newAudit(t, true)
	f.signedIn("U1", "admin", "editor")
	f.users.Put(bridge.DescopeUser{UserID: "U1", Roles: []string{"editor"}, Name: "Ada"})
	// The payload claims admin is still there; only Descope's answer counts.
	body := f.delivery(t, descopestub.AuditEvent{Action: "UserModified", UserID: "U1",
		Data: map[string]any{"Change": map[string]any{"roleNames": []string{"admin", "editor"}}}})

	r := deliver(t, f.h, hmacSecret, body, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %v", r.Body)
	acct := f.account(t, "U1")
	assert.Equal(t, map[string]any{"roles": []any{"editor"}}, acct.Claims)
	assert.Equal(t, 1, acct.Revocations, "a removed role revokes")
	assert.Equal(t, "Ada", acct.DisplayName)
}

func TestAuditLoginExceedMaxAttempts(t *testing.T) {
	cases := []struct {
		name        string
		revoke      bool
		wantRevoked int
	}{
		{"revokes sessions when configured to", true, 1},
		{"only re-reads the user when not", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newAudit(t, tc.revoke)
			f.signedIn("U1", "viewer")
			f.users.Put(bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}})
			body := f.delivery(t, descopestub.AuditEvent{Action: "LoginExceedMaxAttempts", UserID: "U1", Type: "warn"})
			r := deliver(t, f.h, hmacSecret, body, nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %v", r.Body)
			assert.Equal(t, tc.wantRevoked, f.account(t, "U1").Revocations)
		})
	}
}

func TestAuditIgnoresWhatItDoesNotActOn(t *testing.T) {
	cases := []struct {
		name   string
		events []descopestub.AuditEvent
		metric [2]string
	}{
		{"other events are accepted and counted", []descopestub.AuditEvent{{Action: "LoginSucceed", UserID: "U1"}}, [2]string{"other", "ignored"}},
		{"a user event that names no user is counted", []descopestub.AuditEvent{{Action: "UserDeleted"}}, [2]string{"UserDeleted", "no_user_id"}},
		{"an empty delivery is accepted", nil, [2]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newAudit(t, true)
			f.signedIn("U1", "viewer")
			r := deliver(t, f.h, hmacSecret, f.delivery(t, tc.events...), nil)
			assert.Equal(t, http.StatusAccepted, r.Status)
			assert.Equal(t, "ignored", r.Body["status"])
			assert.False(t, f.account(t, "U1").Disabled)
			if tc.metric[0] != "" {
				assert.Equal(t, float64(1), testutil.ToFloat64(f.metrics.WebhookEvents.WithLabelValues(tc.metric[0], tc.metric[1])))
			}
		})
	}

	t.Run("an event of another project is ignored", func(t *testing.T) {
		f := newAudit(t, true)
		f.signedIn("U1", "viewer")
		body := []byte(`[{"projectId":"Pother","action":"UserDeleted","userId":"U1"}]`)
		r := deliver(t, f.h, hmacSecret, body, nil)
		assert.Equal(t, http.StatusAccepted, r.Status)
		assert.False(t, f.account(t, "U1").Disabled)
	})
}

func TestAuditFailuresDescopeShouldRetry(t *testing.T) {
	f := newAudit(t, true)
	f.signedIn("U1", "viewer")
	f.users.Err = bridge.Wrap(bridge.CodeUpstream, errors.New("descope unreachable"), "loading descope user")
	body := f.delivery(t, descopestub.AuditEvent{Action: "UserDeleted", UserID: "U1"})

	r := deliver(t, f.h, hmacSecret, body, nil)
	assert.Equal(t, http.StatusBadGateway, r.Status)
	assert.Equal(t, "upstream_error", r.code())
	assert.False(t, f.account(t, "U1").Disabled)

	t.Run("the retry is processed, not taken for a repeat", func(t *testing.T) {
		f.users.Err = nil
		r := deliver(t, f.h, hmacSecret, body, nil)
		assert.Equal(t, http.StatusOK, r.Status, "body: %v", r.Body)
		assert.True(t, f.account(t, "U1").Disabled)
	})
}

func TestAuditEventNoRetryCanFixDoesNotFailTheDelivery(t *testing.T) {
	f := newAudit(t, true)
	f.signedIn("U2", "viewer")
	tooLong := strings.Repeat("u", 129) // maps to no valid Firebase UID
	body := f.delivery(t,
		descopestub.AuditEvent{Action: "UserDeleted", UserID: tooLong},
		descopestub.AuditEvent{Action: "UserDeleted", UserID: "U2"},
	)
	r := deliver(t, f.h, hmacSecret, body, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %v", r.Body)
	assert.Equal(t, map[string]any{"failed": float64(1), "disabled": float64(1)}, r.Body["outcomes"])
	assert.True(t, f.account(t, "U2").Disabled)
	assert.Contains(t, f.logs.String(), `"message":"audit event cannot be applied"`)
}

func TestAuditRefusals(t *testing.T) {
	valid := []byte(`[{"action":"UserDeleted","userId":"U1"}]`)
	oversized := append([]byte(`[{"action":"UserDeleted","userId":"U1","data":{"pad":"`), bytes.Repeat([]byte("x"), webhook.MaxAuditBody)...)
	oversized = append(oversized, `"}}]`...)
	cases := []struct {
		name    string
		sign    string
		body    []byte
		header  http.Header
		chunked bool
		status  int
		code    string
	}{
		{name: "a missing signature is refused", body: valid, status: 401, code: "unauthorized"},
		{name: "a signature with a wrong secret is refused", sign: "wrong-secret-0123456789abcdef", body: valid, status: 401, code: "unauthorized"},
		{name: "a forged signature (over another body) is refused", body: valid,
			header: http.Header{"X-Descope-Webhook-S256": {descopestub.WebhookSignature(hmacSecret, []byte(`[]`))}}, status: 401, code: "unauthorized"},
		{name: "an oversized body is refused before it is read", sign: hmacSecret, body: oversized, status: 413, code: "request_too_large"},
		{name: "an oversized body with no length is refused while read", sign: hmacSecret, body: oversized, chunked: true, status: 413, code: "request_too_large"},
		{name: "a body that is not JSON is refused", sign: hmacSecret, body: []byte(`[{"action":`), status: 400, code: "bad_request"},
		{name: "a body that is neither a record nor a list is refused", sign: hmacSecret, body: []byte(`{"hello":"world"}`), status: 400, code: "bad_request"},
		{name: "a record that is not an object is refused", sign: hmacSecret, body: []byte(`["UserDeleted"]`), status: 400, code: "bad_request"},
		{name: "a record without an action is refused", sign: hmacSecret, body: []byte(`[{"userId":"U1"}]`), status: 400, code: "bad_request"},
		{name: "a user ID of the wrong type is refused", sign: hmacSecret, body: []byte(`[{"action":"UserDeleted","userId":7}]`), status: 400, code: "bad_request"},
		{name: "data of the wrong type is refused", sign: hmacSecret, body: []byte(`[{"action":"UsersDeleted","data":"U1"}]`), status: 400, code: "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newAudit(t, true)
			f.signedIn("U1", "viewer")
			r := send(t, f.h, tc.sign, tc.body, tc.header, tc.chunked)
			assert.Equal(t, tc.status, r.Status)
			assert.Equal(t, tc.code, r.code())
			assert.False(t, f.account(t, "U1").Disabled, "nothing was applied")
			assert.Equal(t, float64(1), testutil.ToFloat64(f.metrics.WebhookEvents.WithLabelValues("audit_delivery", tc.code)))
		})
	}
}

func TestAuditAcceptsTheShapesItDocuments(t *testing.T) {
	cases := []struct {
		name string
		body string
	}{
		{"a list of records", `[{"action":"UserDeleted","userId":"U1"}]`},
		{"a single record", `{"action":"UserDeleted","userId":"U1"}`},
		{"records under \"events\"", `{"events":[{"action":"UserDeleted","userId":"U1"}]}`},
		{"records under \"audits\"", `{"audits":[{"action":"UserDeleted","userId":"U1"}]}`},
		{"the user in data.userId", `[{"action":"UserDeleted","data":{"userId":"U1"}}]`},
		{"the user in data.user", `[{"action":"UserDeleted","data":{"user":{"userId":"U1","email":"a@example.com"}}}]`},
		{"userIds on the record", `[{"action":"UsersDeleted","userIds":["U1"]}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newAudit(t, true)
			f.signedIn("U1", "viewer")
			r := deliver(t, f.h, hmacSecret, []byte(tc.body), nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %v", r.Body)
			assert.True(t, f.account(t, "U1").Disabled)
		})
	}
}
