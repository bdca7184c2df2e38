package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"

	"github.com/dfbridge/dfbridge/emulator/authemu"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/iamstub"
)

const keylessAccount = "dfbridge-signer@demo-dfbridge.iam.gserviceaccount.com"

// googleStandIn makes this process look like a Cloud Run instance running as
// the stand-in's account: Google's libraries find the metadata server through
// GCE_METADATA_HOST (so Application Default Credentials resolve to the
// account's access tokens, exactly as on Cloud Run), and the Admin SDK's
// calls to the IAM Credentials API reach the stand-in instead of Google.
func googleStandIn(t *testing.T, opts iamstub.Options) (*iamstub.Stub, func(*Config)) {
	t.Helper()
	stub, err := iamstub.New(opts)
	require.NoError(t, err)
	ts := httptest.NewServer(stub.Handler())
	t.Cleanup(ts.Close)

	t.Setenv("GCE_METADATA_HOST", ts.Listener.Addr().String())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir()) // no gcloud user credentials
	redirect, err := iamstub.Transport(ts.URL)
	require.NoError(t, err)
	authed, err := htransport.NewTransport(context.Background(), redirect,
		option.WithScopes("https://www.googleapis.com/auth/cloud-platform"))
	require.NoError(t, err)
	return stub, func(c *Config) {
		c.googleOptions = []option.ClientOption{option.WithHTTPClient(&http.Client{Transport: authed})}
	}
}

// With no key configured, the bridge signs through IAM signBlob as the
// account the metadata server names: the custom token verifies with that
// account's public key, names the account as issuer and subject, and the
// Auth emulator accepts it.
func TestKeylessSigningSignsAsTheServiceAccount(t *testing.T) {
	emu := authemu.ForTest(t)
	iam, withIAM := googleStandIn(t, iamstub.Options{Email: keylessAccount, ProjectID: "demo-dfbridge"})
	s := startStackWith(t, "", nil, nil, stackOptions{config: withIAM})

	assert.Contains(t, s.logs.String(), `"mode":"keyless","account":"`+keylessAccount+`"`)
	const exchanges = 3
	for i := range exchanges {
		uid := "Ukeyless" + strings.Repeat("x", i)
		resp := s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: uid, Roles: []string{"viewer"}}))
		require.Equal(t, 200, resp.Status, "body: %s", resp.Body)
		custom := resp.json(t)["externalToken"].(string)

		claims := verifyCustomToken(t, custom, iam.PublicKey())
		assert.Equal(t, keylessAccount, claims.Iss)
		assert.Equal(t, keylessAccount, claims.Sub)
		assert.Equal(t, "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit", claims.Aud)
		assert.Equal(t, uid, claims.UID)
		assert.Equal(t, []any{"viewer"}, claims.Claims["roles"])

		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		signed, err := emu.SignInWithCustomToken(ctx, custom, "")
		cancel()
		require.NoError(t, err, "the Auth emulator must accept a keyless custom token")
		idClaims, err := authemu.Claims(signed.IDToken)
		require.NoError(t, err)
		assert.Equal(t, uid, idClaims["sub"])
	}

	calls := iam.Calls()
	assert.Equal(t, 1, calls.EmailLookups, "the account is looked up once at start, not per token")
	assert.Equal(t, 1+exchanges, calls.SignBlobs, "one signBlob for the readiness probe and one per exchange")
	assert.GreaterOrEqual(t, calls.Tokens, 1, "signBlob is called with the account's own access token")
	assert.Zero(t, calls.Refused)
}

// FIREBASE_SERVICE_ACCOUNT_EMAIL names the account outright, so the metadata
// server is not asked (how a developer signs keyless from a laptop).
func TestKeylessSigningUsesTheConfiguredAccount(t *testing.T) {
	iam, withIAM := googleStandIn(t, iamstub.Options{Email: keylessAccount, ProjectID: "demo-dfbridge"})
	s := startStackWith(t, "", nil, map[string]string{"FIREBASE_SERVICE_ACCOUNT_EMAIL": keylessAccount},
		stackOptions{config: withIAM})

	resp := s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: "Uconfigured"}))
	require.Equal(t, 200, resp.Status, "body: %s", resp.Body)
	claims := verifyCustomToken(t, resp.json(t)["externalToken"].(string), iam.PublicKey())
	assert.Equal(t, keylessAccount, claims.Iss)
	assert.Zero(t, iam.Calls().EmailLookups)
}

// Without roles/iam.serviceAccountTokenCreator, IAM refuses signBlob: the
// bridge never reports ready, says in its log which grant is missing, and an
// exchange fails with signing_failed rather than a 500.
func TestKeylessSigningWithoutTheGrantIsNotReady(t *testing.T) {
	iam, withIAM := googleStandIn(t, iamstub.Options{Email: keylessAccount, ProjectID: "demo-dfbridge", Denied: true})
	s := startStackWith(t, "", nil, nil, stackOptions{config: withIAM, unready: true})

	var ready apiResponse
	require.Eventually(t, func() bool {
		ready = s.do(t, http.MethodGet, "/readyz", nil, nil)
		missing, _ := ready.json(t)["missing"].([]any)
		return len(missing) == 1 && missing[0] == "firebase_signer"
	}, 20*time.Second, 50*time.Millisecond, "readyz must name only the signer as missing")
	assert.Equal(t, http.StatusServiceUnavailable, ready.Status)

	resp := s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: "Udenied"}))
	assert.Equal(t, http.StatusBadGateway, resp.Status)
	assert.Equal(t, "signing_failed", resp.errorCode(t))
	assert.Contains(t, s.logs.String(), "roles/iam.serviceAccountTokenCreator")
	assert.Positive(t, iam.Calls().Refused)
	assert.Zero(t, iam.Calls().SignBlobs)
}

// Off Google Cloud, with no key and no account named, the bridge refuses to
// start and says how to fix it.
func TestKeylessSigningWithoutAnAccountFailsAtStart(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	t.Setenv("GCE_METADATA_HOST", dead.Listener.Addr().String())
	dead.Close()
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	for k, v := range map[string]string{
		"DESCOPE_PROJECT_ID":             testProject,
		"FIREBASE_PROJECT_ID":            "demo-dfbridge",
		"FIREBASE_AUTH_EMULATOR_HOST":    "",
		"FIREBASE_SERVICE_ACCOUNT_JSON":  "",
		"FIREBASE_SERVICE_ACCOUNT_EMAIL": "",
		"GOOGLE_APPLICATION_CREDENTIALS": "",
	} {
		t.Setenv(k, v)
	}
	cfg, err := loadConfig()
	require.NoError(t, err)
	_, err = newService(context.Background(), cfg, &syncBuffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "FIREBASE_SERVICE_ACCOUNT_EMAIL")
}
