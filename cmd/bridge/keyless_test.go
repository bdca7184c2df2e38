package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/authemu"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/iamstub"
	"github.com/dfbridge/dfbridge/firebase"
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
	return stub, func(c *Config) { c.hooks.IAMBase = redirect }
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

// iamOverTLS serves the IAM stand-in over TLS (HTTP/2 when h2), counts the
// connections the bridge opens to it, and returns the stand-in with a
// config hook: the bridge's own pooled transport, trusting the test CA,
// under the redirect to the stand-in.
func iamOverTLS(t *testing.T, opts iamstub.Options, h2 bool) (*iamstub.Stub, *atomic.Int64, func(*Config)) {
	t.Helper()
	stub, err := iamstub.New(opts)
	require.NoError(t, err)
	ts := httptest.NewUnstartedServer(stub.Handler())
	ts.EnableHTTP2 = h2
	conns := &atomic.Int64{}
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	// The metadata server is plain HTTP, as on Cloud Run.
	meta := httptest.NewServer(stub.Handler())
	t.Cleanup(meta.Close)
	t.Setenv("GCE_METADATA_HOST", meta.Listener.Addr().String())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	redirect, err := iamstub.TransportOver(ts.URL, firebase.PooledTransport(64, roots))
	require.NoError(t, err)
	return stub, conns, func(c *Config) { c.hooks.IAMBase = redirect }
}

// keylessEnv keeps the limits out of the way of many loopback exchanges.
var keylessEnv = map[string]string{"RATE_LIMIT_IP_PER_MINUTE": "0", "RATE_LIMIT_USER_PER_MINUTE": "0", "EXCHANGE_CACHE_SIZE": "0"}

// exchangeMany runs n exchanges of distinct users from conns clients at
// once and returns the status codes seen.
func exchangeMany(t *testing.T, s *stack, conns, n int) map[int]int {
	t.Helper()
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = s.session(t, descopestub.Session{UserID: fmt.Sprintf("Ukl%05d", i)})
	}
	var mu sync.Mutex
	statuses := map[int]int{}
	work := make(chan string)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tok := range work {
				resp := s.exchangeBearer(t, tok)
				mu.Lock()
				statuses[resp.Status]++
				mu.Unlock()
			}
		}()
	}
	for _, tok := range tokens {
		work <- tok
	}
	close(work)
	wg.Wait()
	return statuses
}

// Keyless signing reuses its connections to IAM: over HTTP/2 one or two
// connections carry every signBlob call; over HTTP/1.1 the pool is sized to
// the concurrency, so no call waits for a new TLS handshake once warm.
func TestKeylessSigningReusesConnectionsToIAM(t *testing.T) {
	for _, h2 := range []bool{true, false} {
		name := "over HTTP/1.1 the pool holds a connection per concurrent call"
		if h2 {
			name = "over HTTP/2 a couple of connections carry every call"
		}
		t.Run(name, func(t *testing.T) {
			stub, conns, withIAM := iamOverTLS(t, iamstub.Options{Email: keylessAccount, ProjectID: "demo-dfbridge"}, h2)
			s := startStackWith(t, "", nil, keylessEnv, stackOptions{config: withIAM})
			const clients, n = 16, 1000
			statuses := exchangeMany(t, s, clients, n)
			assert.Equal(t, map[int]int{200: n}, statuses)
			calls := stub.Calls().SignBlobs
			t.Logf("%d signBlob calls over %d new TLS connections (h2=%v)", calls, conns.Load(), h2)
			if h2 {
				assert.LessOrEqual(t, conns.Load()*1000, int64(2*calls), "at most 2 new connections per 1,000 calls")
			} else {
				// About one per client: the start-up probe, and calls that
				// found every pooled connection busy for an instant on a
				// loaded 2-core machine (16 to 24 seen), where Go's default
				// pool of two would open hundreds for 1,000 calls.
				assert.LessOrEqual(t, conns.Load(), int64(2*clients), "a connection per concurrent call, reused")
			}
		})
	}
}

// IAM answering 429 (its quota) to a fifth of the calls costs the client
// nothing: the bridge retries with backoff within the signing deadline.
func TestKeylessSigningRetriesIAMThrottling(t *testing.T) {
	stub, _, withIAM := iamOverTLS(t, iamstub.Options{Email: keylessAccount, ProjectID: "demo-dfbridge"}, true)
	stub.SetFault(func(n int) (int, string) {
		if n%5 == 0 {
			return http.StatusTooManyRequests, "0"
		}
		return 0, ""
	})
	s := startStackWith(t, "", nil, keylessEnv, stackOptions{config: withIAM})
	statuses := exchangeMany(t, s, 16, 200)
	if !assert.Equal(t, map[int]int{200: 200}, statuses, "no 5xx while the retries fit the deadline") {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			if strings.Contains(line, "request refused") {
				t.Log(line)
			}
		}
	}
	assert.Positive(t, stub.Calls().Faulted)
	t.Logf("%d signBlob calls throttled and retried", stub.Calls().Faulted)
}

// A 429 asking for longer than the signing deadline is not waited for: the
// exchange gets 503 signing_unavailable with Retry-After at once, not a
// hang past the write timeout.
func TestKeylessSigningDoesNotWaitPastTheDeadline(t *testing.T) {
	stub, _, withIAM := iamOverTLS(t, iamstub.Options{Email: keylessAccount, ProjectID: "demo-dfbridge"}, true)
	s := startStackWith(t, "", nil, keylessEnv, stackOptions{config: withIAM})
	stub.SetFault(func(int) (int, string) { return http.StatusTooManyRequests, "60" })
	start := time.Now()
	resp := s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: "Uquota"}))
	took := time.Since(start)
	assert.Equal(t, http.StatusServiceUnavailable, resp.Status)
	assert.Equal(t, "signing_unavailable", resp.errorCode(t))
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	assert.Less(t, took, writeTimeout, "answered within the write timeout")
}

// While IAM keeps failing, the breaker opens: exchanges get 503
// signing_unavailable without calling IAM, until the cool-down ends.
func TestKeylessSigningBreakerFailsFastWhileIAMIsDown(t *testing.T) {
	stub, _, withIAM := iamOverTLS(t, iamstub.Options{Email: keylessAccount, ProjectID: "demo-dfbridge"}, true)
	s := startStackWith(t, "", nil, keylessEnv, stackOptions{config: withIAM})
	stub.SetFault(func(int) (int, string) { return http.StatusServiceUnavailable, "" })
	var resp apiResponse
	for i := 0; i < 6; i++ {
		resp = s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: fmt.Sprintf("Udown%d", i)}))
		require.Equal(t, http.StatusServiceUnavailable, resp.Status, "body: %s", resp.Body)
		assert.Equal(t, "signing_unavailable", resp.errorCode(t))
	}
	before := stub.Calls().Faulted
	resp = s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: "Udown-fast"}))
	assert.Equal(t, http.StatusServiceUnavailable, resp.Status)
	assert.Equal(t, before, stub.Calls().Faulted, "the breaker is open: IAM was not called")
	assert.Positive(t, testutil.CollectAndCount(s.svc.metrics.SignBlob), "signBlob outcomes are measured")
}
