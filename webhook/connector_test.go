package webhook_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	sdk "github.com/descope/go-sdk/descope"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
	"github.com/dfbridge/dfbridge/firebase"
	"github.com/dfbridge/dfbridge/metrics"
	"github.com/dfbridge/dfbridge/webhook"
)

// minter is one real Firebase minter for the package's tests, signing with
// a throwaway service-account key (RSA key generation is the slow part).
var minter = sync.OnceValues(func() (*firebase.Minter, error) {
	sa, err := serviceaccount.Generate("demo-webhook")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fb, err := firebase.New(ctx, firebase.ClientConfig{CredentialsJSON: sa.JSON})
	if err != nil {
		return nil, err
	}
	return fb.Minter(), nil
})

// connector returns the connector handler over the real minter.
func connector(t *testing.T, secrets webhook.Secrets) (http.Handler, *metrics.Metrics, *logBuffer) {
	t.Helper()
	mt, err := minter()
	require.NoError(t, err)
	log, logs := newLogger()
	m := metrics.New()
	return webhook.HandleExternalToken(webhook.ExternalTokenConfig{
		ProjectID: project,
		Secrets:   secrets,
		Exchanger: &bridge.Exchange{Mapping: bridge.DefaultMapping(), Minter: mt},
		Log:       log,
		Metrics:   m,
	}), m, logs
}

// descopeUser is the body Descope's connector sends, in the shape of its
// user record.
func descopeUser(t *testing.T) []byte {
	return mustJSON(t, map[string]any{"user": sdk.UserResponse{
		User:          sdk.User{Email: "ada@example.com", Name: "Ada"},
		UserID:        "U2connector",
		LoginIDs:      []string{"ada@example.com"},
		VerifiedEmail: true,
		RoleNames:     []string{"admin"},
		UserTenants:   []*sdk.AssociatedTenant{{TenantID: "T1", TenantName: "Acme", Roles: []string{"owner"}}},
		Status:        "enabled",
		OAuth:         map[string]bool{"google": true},
	}})
}

func TestExternalTokenAnswersTheConnectorWithACustomToken(t *testing.T) {
	h, m, logs := connector(t, webhook.NewSecrets([]string{hmacSecret}, nil))
	cases := []struct {
		name       string
		body       []byte
		wantClaims map[string]any
	}{
		{
			name: "a Descope user record under \"user\"",
			body: descopeUser(t),
			wantClaims: map[string]any{
				"roles":   []any{"admin"},
				"tenants": map[string]any{"T1": map[string]any{"roles": []any{"owner"}}},
			},
		},
		{
			name: "a bare user object with session-JWT names",
			body: []byte(`{"sub":"U2connector","roles":["viewer"],"permissions":["docs.read"],` +
				`"tenants":{"T9":{"roles":["member"]}},"dct":"T9","unknownField":{"kept":"ignored"}}`),
			wantClaims: map[string]any{
				"roles":       []any{"viewer"},
				"permissions": []any{"docs.read"},
				"tenants":     map[string]any{"T9": map[string]any{"roles": []any{"member"}}},
				"dct":         "T9",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := deliver(t, h, hmacSecret, tc.body, nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %v", r.Body)
			tok, _ := r.Body["token"].(string)
			require.NotEmpty(t, tok)
			assert.Equal(t, "U2connector", r.Body["uid"])
			p := payload(t, tok)
			assert.Equal(t, "U2connector", p["uid"])
			assert.Equal(t, tc.wantClaims, p["claims"])
			assert.Equal(t, p["exp"], r.Body["expiresAt"])
			assert.NotContains(t, logs.String(), tok, "the token is never logged")
		})
	}
	assert.Equal(t, float64(2), testutil.ToFloat64(m.WebhookEvents.WithLabelValues("external_token", "ok")))
}

func TestExternalTokenRefusals(t *testing.T) {
	hmacOnly := webhook.NewSecrets([]string{hmacSecret}, nil)
	bearerOnly := webhook.NewSecrets(nil, []string{bearerSecret})
	good := descopeUser(t)
	oversized := append([]byte(`{"user":{"userId":"U1","pad":"`), bytes.Repeat([]byte("x"), webhook.MaxExternalTokenBody)...)
	oversized = append(oversized, `"}}`...)

	cases := []struct {
		name    string
		secrets webhook.Secrets
		sign    string
		body    []byte
		header  http.Header
		chunked bool
		status  int
		code    string
	}{
		{name: "a forged signature (over another body) is refused", secrets: hmacOnly, body: good,
			header: http.Header{"X-Descope-Webhook-S256": {descopestub.WebhookSignature(hmacSecret, []byte(`{"user":{"userId":"U1"}}`))}},
			status: 401, code: "unauthorized"},
		{name: "a missing signature is refused", secrets: hmacOnly, body: good, status: 401, code: "unauthorized"},
		{name: "a signature with a wrong secret is refused", secrets: hmacOnly, sign: "wrong-secret-0123456789abcdef", body: good, status: 401, code: "unauthorized"},
		{name: "a wrong bearer secret is refused", secrets: bearerOnly, body: good,
			header: http.Header{"Authorization": {"Bearer not-the-secret"}}, status: 401, code: "unauthorized"},
		{name: "an oversized body is refused before it is read", secrets: hmacOnly, sign: hmacSecret, body: oversized, status: 413, code: "request_too_large"},
		{name: "an oversized body with no length is refused while read", secrets: hmacOnly, sign: hmacSecret, body: oversized, chunked: true, status: 413, code: "request_too_large"},
		{name: "a body that is not JSON is refused", secrets: hmacOnly, sign: hmacSecret, body: []byte(`{"user":`), status: 400, code: "bad_request"},
		{name: "a body that is not an object is refused", secrets: hmacOnly, sign: hmacSecret, body: []byte(`["U1"]`), status: 400, code: "bad_request"},
		{name: "a body with trailing data is refused", secrets: hmacOnly, sign: hmacSecret, body: []byte(`{"userId":"U1"} {}`), status: 400, code: "bad_request"},
		{name: "a body without a user ID is refused", secrets: hmacOnly, sign: hmacSecret, body: []byte(`{"user":{"email":"a@example.com"}}`), status: 400, code: "bad_request"},
		{name: "a user ID of the wrong type is refused", secrets: hmacOnly, sign: hmacSecret, body: []byte(`{"userId":42}`), status: 400, code: "bad_request"},
		{name: "roles of the wrong type are refused", secrets: hmacOnly, sign: hmacSecret, body: []byte(`{"userId":"U1","roleNames":"admin"}`), status: 400, code: "bad_request"},
		{name: "a user that is not an object is refused", secrets: hmacOnly, sign: hmacSecret, body: []byte(`{"user":"U1"}`), status: 400, code: "bad_request"},
		{name: "a tenant entry without an ID is refused", secrets: hmacOnly, sign: hmacSecret, body: []byte(`{"userId":"U1","userTenants":[{"roleNames":["a"]}]}`), status: 400, code: "bad_request"},
		{name: "a disabled user gets no token", secrets: hmacOnly, sign: hmacSecret, body: []byte(`{"userId":"U1","status":"disabled"}`), status: 403, code: "user_disabled"},
		{name: "a user ID over Firebase's limit is refused by the mapping", secrets: hmacOnly, sign: hmacSecret,
			body: []byte(`{"userId":"` + string(bytes.Repeat([]byte("u"), 129)) + `"}`), status: 400, code: "uid_too_long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, m, _ := connector(t, tc.secrets)
			r := send(t, h, tc.sign, tc.body, tc.header, tc.chunked)
			assert.Equal(t, tc.status, r.Status)
			assert.Equal(t, tc.code, r.code())
			assert.NotContains(t, r.Body, "token")
			assert.Equal(t, float64(1), testutil.ToFloat64(m.WebhookEvents.WithLabelValues("external_token", tc.code)))
		})
	}
}

func TestExternalTokenWithABearerSecret(t *testing.T) {
	h, _, _ := connector(t, webhook.NewSecrets(nil, []string{"old-bearer-0123456789abcdef", bearerSecret}))
	r := deliver(t, h, "", descopeUser(t), http.Header{"Authorization": {"Bearer " + bearerSecret}})
	assert.Equal(t, http.StatusOK, r.Status, "body: %v", r.Body)
	assert.NotEmpty(t, r.Body["token"])
}
