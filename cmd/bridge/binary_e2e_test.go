package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
)

// The bridge as its own process, signing with a key file, as the image
// runs it: 16 clients at once, 10 sessions each, all pass through the
// first-come-first-served admission queue, and every custom token
// verifies with the key's public half; a session signed by another key is
// refused 401. The test command runs this on the BoringCrypto static build
// too (DFBRIDGE_TEST_BRIDGE_BIN).
func TestBuiltBinaryExchangesWithAKeyFile(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the bridge and runs it as a process")
	}
	stub, err := descopestub.New(descopestub.Options{ProjectID: testProject})
	require.NoError(t, err)
	ts := httptest.NewServer(stub.Handler())
	t.Cleanup(ts.Close)
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "sa.json")
	require.NoError(t, os.WriteFile(keyFile, sa.JSON, 0o600))

	p := startProcess(t, buildBridge(t), map[string]string{
		"PORT": "0", "LISTEN_HOST": "127.0.0.1", "LOG_LEVEL": "info",
		"DESCOPE_PROJECT_ID": testProject, "DESCOPE_BASE_URL": ts.URL,
		"FIREBASE_AUTH_EMULATOR_HOST": "", "FIREBASE_PROJECT_ID": "demo-dfbridge",
		"FIREBASE_SERVICE_ACCOUNT_JSON": "", "GOOGLE_APPLICATION_CREDENTIALS": keyFile,
		"EXCHANGE_CACHE_SIZE": "0", "EXCHANGE_IN_FLIGHT_PER_CORE": "1", "IDENTITY_MAPPING": "",
		"RATE_LIMIT_IP_PER_MINUTE": "0", "RATE_LIMIT_USER_PER_MINUTE": "0",
	})

	exchange := func(session string) (int, map[string]any) {
		req, err := http.NewRequest(http.MethodPost, p.url+"/exchange", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+session)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var body map[string]any
		require.NoError(t, json.Unmarshal(raw, &body), "%s", raw)
		return resp.StatusCode, body
	}

	var wg sync.WaitGroup
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				uid := fmt.Sprintf("U2bin%02d%02d", c, i)
				session, err := stub.MintSession(descopestub.Session{UserID: uid, Roles: []string{"viewer"}})
				if !assert.NoError(t, err) {
					return
				}
				status, body := exchange(session)
				if !assert.Equal(t, http.StatusOK, status, "%v", body) {
					return
				}
				custom, _ := body["externalToken"].(string)
				claims := verifyCustomToken(t, custom, &sa.Private.PublicKey)
				assert.Equal(t, uid, claims.UID)
				assert.Equal(t, []any{"viewer"}, claims.Claims["roles"])
			}
		}()
	}
	wg.Wait()

	other, err := descopestub.New(descopestub.Options{ProjectID: testProject})
	require.NoError(t, err)
	forged, err := other.MintSession(descopestub.Session{UserID: "U2forged"})
	require.NoError(t, err)
	status, body := exchange(forged)
	assert.Equal(t, http.StatusUnauthorized, status, "%v", body)
	assert.NotContains(t, p.logs.String(), forged)
}
