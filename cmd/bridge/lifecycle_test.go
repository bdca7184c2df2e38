package main

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
)

// /readyz says which dependency is missing until Descope's keys load.
func TestReadyzNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	s := startStack(t, "", sa, nil)

	resp := s.do(t, http.MethodGet, "/readyz", nil, nil)
	assert.Equal(t, http.StatusOK, resp.Status)
	assert.Equal(t, "ready", resp.json(t)["status"])

	// A bridge whose Descope is unreachable is up but not ready.
	down := startStackNoWait(t, "", sa, map[string]string{"DESCOPE_BASE_URL": "http://127.0.0.1:1"})
	resp = down.do(t, http.MethodGet, "/healthz", nil, nil)
	assert.Equal(t, http.StatusOK, resp.Status)
	// The signer's self-test passes quickly; the keys never load.
	assert.Eventually(t, func() bool {
		resp = down.do(t, http.MethodGet, "/readyz", nil, nil)
		missing, _ := resp.json(t)["missing"].([]any)
		return resp.Status == http.StatusServiceUnavailable && len(missing) == 1 && missing[0] == "descope_keys"
	}, 10*time.Second, 20*time.Millisecond, "readyz should name only descope_keys")

	// And a session cannot be exchanged: 503, not a verification error.
	tok := s.session(t, descopestub.Session{UserID: "U1"})
	resp = down.exchangeBearer(t, tok)
	assert.Equal(t, http.StatusServiceUnavailable, resp.Status)
	assert.Equal(t, "keys_unavailable", resp.errorCode(t))
}

// On SIGTERM (the run context ends) a request already in flight still gets
// its answer, and serve returns cleanly.
func TestShutdownLetsInFlightRequestsFinish(t *testing.T) {
	t.Parallel()
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	s := startStack(t, "", sa, map[string]string{"DESCOPE_KEYS_UNKNOWN_KID_COOLDOWN": "1s"})

	// A token under a key the bridge has not seen makes it fetch keys;
	// the stand-in holds that fetch for a while, keeping the request open.
	entered := make(chan struct{})
	var once sync.Once
	s.stub.SetKeysFault(func(_ http.ResponseWriter) bool {
		once.Do(func() { close(entered) })
		time.Sleep(700 * time.Millisecond)
		return false
	})
	_, err = s.stub.RotateKey(false)
	require.NoError(t, err)
	tok := s.session(t, descopestub.Session{UserID: "U1"})

	result := make(chan apiResponse, 1)
	go func() { result <- s.exchangeBearer(t, tok) }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the exchange never reached the key endpoint")
	}
	s.stop(t)
	resp := <-result
	assert.Equal(t, http.StatusOK, resp.Status, "in-flight exchange must complete: %s", resp.Body)
	assert.Contains(t, s.logs.String(), "shutting down")
}
