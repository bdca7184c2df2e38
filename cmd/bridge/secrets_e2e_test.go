package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdk "github.com/descope/go-sdk/descope"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/authemu"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/webhook"
)

// secretVars are every variable that holds a secret (the configuration
// reference's "from Secret Manager" rows, and the bearer credentials).
var secretVars = []string{
	"DESCOPE_MANAGEMENT_KEY", "REDIS_URL", "FIREBASE_SERVICE_ACCOUNT_JSON",
	"EXTERNAL_TOKEN_HMAC_SECRETS", "EXTERNAL_TOKEN_BEARER_SECRETS", "EXTERNAL_TOKEN_API_KEYS", "EXTERNAL_TOKEN_BASIC_AUTH",
	"AUDIT_WEBHOOK_HMAC_SECRETS", "AUDIT_WEBHOOK_BEARER_SECRETS", "AUDIT_WEBHOOK_API_KEYS", "AUDIT_WEBHOOK_BASIC_AUTH",
}

// marker is the value planted in one variable: long enough to pass the
// length rule, unique to the variable.
func marker(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "Mk7q" + hex.EncodeToString(sum[:10])
}

// assertNoMarker fails if out holds any planted value, or a long enough
// piece of one to identify it.
func assertNoMarker(t *testing.T, what, out string, planted ...string) {
	t.Helper()
	for _, p := range planted {
		assert.NotContains(t, out, p, "%s echoes a secret", what)
		if len(p) > 12 {
			assert.NotContains(t, out, p[4:12], "%s echoes part of a secret", what)
		}
	}
}

// A bad value in any secret variable stops start-up with an error that
// names the variable and never the value, or any part of it. The case
// the review found: a REDIS_URL whose password has a bad escape was
// echoed whole.
func TestStartUpErrorsNeverEchoASecret(t *testing.T) {
	base := map[string]string{"DESCOPE_PROJECT_ID": testProject, "FIREBASE_PROJECT_ID": "demo-dfbridge",
		"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:1"}
	bad := map[string][]string{
		"REDIS_URL": {"redis://:" + marker("REDIS_URL") + "%zz@127.0.0.1:6379/0", "http://:" + marker("REDIS_URL") + "@127.0.0.1:6379",
			"redis://:" + marker("REDIS_URL") + "@[::1"},
		"FIREBASE_SERVICE_ACCOUNT_JSON": {`{"type":"service_account","private_key":"` + marker("FIREBASE_SERVICE_ACCOUNT_JSON") + `"}`,
			marker("FIREBASE_SERVICE_ACCOUNT_JSON") + "{"},
	}
	for _, v := range secretVars {
		if strings.HasPrefix(v, "EXTERNAL_TOKEN") || strings.HasPrefix(v, "AUDIT_WEBHOOK") {
			bad[v] = []string{" " + marker(v) + " ", marker(v)[:10], marker(v) + ",short" + marker(v)[:4]}
		}
	}
	for name, values := range bad {
		for _, value := range values {
			t.Run(name, func(t *testing.T) {
				env := map[string]string{name: value}
				if strings.HasPrefix(name, "FIREBASE_SERVICE_ACCOUNT_JSON") {
					env["FIREBASE_AUTH_EMULATOR_HOST"] = ""
				}
				setConfigEnv(t, base, env)
				var out bytes.Buffer
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err := run(ctx, &out)
				require.Error(t, err, "a bad %s stops start-up", name)
				assertNoMarker(t, "the start-up error", err.Error(), marker(name))
				assertNoMarker(t, "the start-up log", out.String(), marker(name))
			})
		}
	}
}

// With every secret variable set to a marker, neither doctor's text nor
// its JSON holds any of them, whatever fails (Redis unreachable with the
// marker as its password, a management key the stand-in refuses).
func TestDoctorNeverEchoesASecret(t *testing.T) {
	env := map[string]string{"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:1"}
	var planted []string
	for _, v := range secretVars {
		switch v {
		case "FIREBASE_SERVICE_ACCOUNT_JSON", "EXTERNAL_TOKEN_BASIC_AUTH", "AUDIT_WEBHOOK_BASIC_AUTH":
			continue // Basic and bearer share Authorization: one of each route
		case "REDIS_URL":
			env[v] = "redis://:" + marker(v) + "@127.0.0.1:1/0"
		default:
			env[v] = marker(v)
		}
		planted = append(planted, marker(v))
	}
	doctorStack(t, env)
	for _, args := range [][]string{nil, {"--json"}} {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := runDoctor(ctx, args, &out, &errOut)
		cancel()
		require.Error(t, err, "doctor fails: Redis is unreachable and the management key wrong")
		t.Logf("doctor %v:\n%s%s", args, out.String(), errOut.String())
		assertNoMarker(t, "doctor's output", out.String()+errOut.String()+err.Error(), planted...)
	}
}

// Under traffic and under failures (forged, unsigned and correct webhook
// calls, bad and good exchanges, lifecycle jobs), the service's log holds
// no secret: not the webhook credentials, not the management key.
func TestTheLogNeverHoldsASecret(t *testing.T) {
	t.Parallel()
	emu := authemu.ForTest(t)
	mgmt := marker("DESCOPE_MANAGEMENT_KEY")
	stub, err := descopestub.New(descopestub.Options{ProjectID: testProject, ManagementKey: mgmt})
	require.NoError(t, err)
	ts := httptest.NewServer(stub.Handler())
	t.Cleanup(ts.Close)
	env := map[string]string{
		"DESCOPE_MANAGEMENT_KEY":        mgmt,
		"EXTERNAL_TOKEN_HMAC_SECRETS":   marker("EXTERNAL_TOKEN_HMAC_SECRETS"),
		"EXTERNAL_TOKEN_BEARER_SECRETS": marker("EXTERNAL_TOKEN_BEARER_SECRETS"),
		"AUDIT_WEBHOOK_HMAC_SECRETS":    marker("AUDIT_WEBHOOK_HMAC_SECRETS"),
		"AUDIT_WEBHOOK_API_KEYS":        marker("AUDIT_WEBHOOK_API_KEYS"),
	}
	s := startStackWith(t, emu.Host, nil, env, stackOptions{descope: stub, descopeURL: ts.URL})
	planted := []string{}
	for _, v := range env {
		planted = append(planted, v)
	}

	stub.PutUser(sdk.UserResponse{UserID: "Usecret", LoginIDs: []string{"usecret@example.com"}, Status: "enabled"})
	tok := s.session(t, descopestub.Session{UserID: "Usecret"})
	require.Equal(t, http.StatusOK, s.exchangeBearer(t, tok).Status)
	s.exchangeBearer(t, tok+"x")
	s.exchangeBearer(t, marker("EXTERNAL_TOKEN_BEARER_SECRETS"))

	conn, err := stub.ConnectorBody("Usecret")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call := func(route, hmacSecret string, body []byte, header http.Header) int {
		resp, err := descopestub.Deliver(ctx, s.url+route, hmacSecret, body, header)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	bearer := http.Header{"Authorization": {"Bearer " + marker("EXTERNAL_TOKEN_BEARER_SECRETS")}}
	assert.Equal(t, http.StatusOK, call("/webhook/external-token", marker("EXTERNAL_TOKEN_HMAC_SECRETS"), conn, bearer))
	assert.Equal(t, http.StatusUnauthorized, call("/webhook/external-token", marker("AUDIT_WEBHOOK_HMAC_SECRETS"), conn, bearer))
	assert.Equal(t, http.StatusUnauthorized, call("/webhook/external-token", marker("EXTERNAL_TOKEN_HMAC_SECRETS"), conn,
		http.Header{"Authorization": {"Bearer " + marker("EXTERNAL_TOKEN_BEARER_SECRETS") + "x"}}))

	delivery, err := stub.AuditDelivery(descopestub.AuditEvent{Action: "UserModified", UserID: "Usecret"},
		descopestub.AuditEvent{Action: "UserDeleted", UserID: "Ugone"})
	require.NoError(t, err)
	key := http.Header{webhook.DefaultAPIKeyHeader: {marker("AUDIT_WEBHOOK_API_KEYS")}}
	assert.Equal(t, http.StatusAccepted, call("/webhook/audit", marker("AUDIT_WEBHOOK_HMAC_SECRETS"), delivery, key))
	assert.Equal(t, http.StatusUnauthorized, call("/webhook/audit", marker("AUDIT_WEBHOOK_HMAC_SECRETS")+"x", delivery, key))
	assert.Equal(t, http.StatusUnauthorized, call("/webhook/audit", marker("AUDIT_WEBHOOK_HMAC_SECRETS"), delivery,
		http.Header{webhook.DefaultAPIKeyHeader: {marker("AUDIT_WEBHOOK_API_KEYS") + "x"}}))
	require.NoError(t, s.svc.lifecycle.waitIdle(ctx))
	assertNoMarker(t, "the log", s.logs.String(), planted...)
}
