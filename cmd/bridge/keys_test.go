package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
)

// A flood of tokens with random kids cannot turn the bridge into a
// amplifier against Descope's key endpoint: the SDK alone would fetch once
// per request.
func TestUnknownKIDFloodFetchesAtMostTwice(t *testing.T) {
	t.Parallel()
	s := hostileStack(t, map[string]string{"RATE_LIMIT_IP_PER_MINUTE": "0"})
	require.Equal(t, int64(1), s.stub.KeyRequests(), "the start-up load")

	const requests, workers = 1000, 16
	// Well-formed tokens under random kids. The signature bytes do not
	// matter: no key for these kids exists to check them with.
	claims := s.stub.Claims(descopestub.Session{UserID: "U2flood"}, "DS")
	sig := make([]byte, 256)
	tokens := make(chan string, requests)
	for range requests {
		kid := make([]byte, 12)
		_, err := rand.Read(kid)
		require.NoError(t, err)
		tokens <- rawJWT(t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "K" + strings.ToUpper(hex.EncodeToString(kid))}, claims, sig)
	}
	close(tokens)

	var mu sync.Mutex
	statuses := map[string]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for tok := range tokens {
				resp := s.exchangeBearer(t, tok)
				code := resp.errorCode(t)
				mu.Lock()
				statuses[http.StatusText(resp.Status)+" "+code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	assert.Equal(t, map[string]int{"Unauthorized unknown_key": requests}, statuses)
	fetches := s.stub.KeyRequests()
	assert.LessOrEqual(t, fetches, int64(2), "1,000 random kids reached the key endpoint %d times", fetches)
	t.Logf("key endpoint requests: %d (start-up load included)", fetches)

	resp := s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: "U2afterflood"}))
	assert.Equal(t, 200, resp.Status, "a valid session still exchanges after the flood: %s", resp.Body)
}

// Once keys are loaded, no failure of Descope's key endpoint stops valid
// sessions from exchanging; each failure is logged and counted.
func TestKeyEndpointOutageAfterWarmUp(t *testing.T) {
	t.Parallel()
	faults := map[string]func(s *stack, release <-chan struct{}) func(http.ResponseWriter) bool{
		"an error": func(*stack, <-chan struct{}) func(http.ResponseWriter) bool {
			return descopestub.FailWith(http.StatusInternalServerError)
		},
		"a hang": func(_ *stack, release <-chan struct{}) func(http.ResponseWriter) bool {
			return descopestub.Hang(release)
		},
		"garbage": func(*stack, <-chan struct{}) func(http.ResponseWriter) bool {
			return descopestub.Serve([]byte("<!doctype html><title>Bad gateway</title>"))
		},
		"an empty key set": func(*stack, <-chan struct{}) func(http.ResponseWriter) bool {
			return descopestub.Serve([]byte(`{"keys":[]}`))
		},
		"an oversized body": func(s *stack, _ <-chan struct{}) func(http.ResponseWriter) bool {
			jwks := string(s.stub.JWKS())
			return descopestub.Serve([]byte(strings.TrimSuffix(jwks, "}") + `,"padding":"` + strings.Repeat("x", 1<<20) + `"}`))
		},
	}
	for name, fault := range faults {
		t.Run("after "+name+" a valid session still exchanges", func(t *testing.T) {
			s := hostileStack(t, map[string]string{"DESCOPE_KEYS_FETCH_TIMEOUT": "300ms"})
			release := make(chan struct{})
			t.Cleanup(func() { close(release) }) // before the stand-in closes
			s.stub.SetKeysFault(fault(s, release))

			// An unknown kid makes the bridge fetch now, into the fault.
			unknown, err := s.stub.Sign(map[string]any{"kid": "Knotpublished1"}, s.stub.Claims(descopestub.Session{UserID: "U2probe"}, "DS"))
			require.NoError(t, err)
			resp := s.exchangeBearer(t, unknown)
			assert.Equal(t, 401, resp.Status)
			assert.Equal(t, "unknown_key", resp.errorCode(t))
			assert.Equal(t, int64(2), s.stub.KeyRequests(), "the fetch reached the failing endpoint")
			// The caller's wait and the fetch share one bound, so the answer
			// may come a moment before the fetch has logged its failure.
			assert.Eventually(t, func() bool {
				return counterValue(t, s.svc.metrics.KeyFetches.WithLabelValues("unknown_kid", "error")) == 1.0 &&
					strings.Contains(s.logs.String(), "descope key fetch failed; keeping last good keys")
			}, 5*time.Second, 10*time.Millisecond, "the failure is counted and logged")

			resp = s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: "U2outage"}))
			assert.Equal(t, 200, resp.Status, "body: %s", resp.Body)
			assert.Equal(t, 200, s.do(t, http.MethodGet, "/readyz", nil, nil).Status, "still ready on the last good keys")
		})
	}
}

// A new signing key is picked up as soon as a token uses it, and a key
// Descope removed is refused once the set has been refreshed.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	s := hostileStack(t, nil)
	before := s.session(t, descopestub.Session{UserID: "U2rotation"})
	require.Equal(t, 200, s.exchangeBearer(t, before).Status)

	_, err := s.stub.RotateKey(true)
	require.NoError(t, err)
	assert.Equal(t, 200, s.exchangeBearer(t, before).Status, "until the next refresh the cached key serves")

	after := s.session(t, descopestub.Session{UserID: "U2rotation"})
	resp := s.exchangeBearer(t, after)
	assert.Equal(t, 200, resp.Status, "a token under the new kid is accepted: %s", resp.Body)
	assert.Equal(t, int64(2), s.stub.KeyRequests(), "the new kid cost one fetch")

	resp = s.exchangeBearer(t, before)
	assert.Equal(t, 401, resp.Status)
	assert.Equal(t, "unknown_key", resp.errorCode(t), "the removed key is refused after the refresh")
}

// /readyz is not ready until Descope's keys are loaded, and exchanges are
// refused as our failure (503), not the caller's, until then.
func TestNotReadyUntilKeysLoad(t *testing.T) {
	t.Parallel()
	// A stand-in of our own, failing before the bridge first asks it.
	descope, err := descopestub.New(descopestub.Options{ProjectID: testProject})
	require.NoError(t, err)
	descope.SetKeysFault(descopestub.FailWith(http.StatusServiceUnavailable))
	ts := httptest.NewServer(descope.Handler())
	t.Cleanup(ts.Close)
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	s := startStackNoWait(t, "", sa, map[string]string{"DESCOPE_BASE_URL": ts.URL})

	resp := s.do(t, http.MethodGet, "/readyz", nil, nil)
	assert.Equal(t, 503, resp.Status)
	assert.Contains(t, resp.json(t)["missing"], "descope_keys")
	tok, err := descope.MintSession(descopestub.Session{UserID: "U2early"})
	require.NoError(t, err)
	resp = s.exchangeBearer(t, tok)
	assert.Equal(t, 503, resp.Status)
	assert.Equal(t, "keys_unavailable", resp.errorCode(t))

	descope.SetKeysFault(nil)
	s.waitReady(t) // start-up retries the load until it succeeds
	resp = s.exchangeBearer(t, tok)
	assert.Equal(t, 200, resp.Status, "body: %s", resp.Body)
}

func counterValue(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
