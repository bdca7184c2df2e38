package main

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/descope"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
)

// With Descope's key endpoint hanging from start-up and the largest fetch
// timeout the config accepts, every exchange still gets an HTTP answer
// before the server's write timeout: one bounded wait, then 503
// keys_unavailable with Retry-After. (Before, an exchange joined the
// start-up fetch and then started its own, waiting twice the timeout.)
func TestHangingKeyEndpointStillAnswersEveryExchange(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits out a 10 s key fetch")
	}
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	release := make(chan struct{})
	s := startStackWith(t, "", sa, map[string]string{
		"DESCOPE_KEYS_FETCH_TIMEOUT":        descope.MaxKeysFetchTimeout.String(),
		"DESCOPE_KEYS_UNKNOWN_KID_COOLDOWN": "1s",
		"RATE_LIMIT_IP_BURST":               "1000",
	}, stackOptions{unready: true, stub: func(st *descopestub.Stub) {
		st.SetKeysFault(descopestub.Hang(release))
	}})
	t.Cleanup(func() { close(release) })
	tok := s.session(t, descopestub.Session{UserID: "U2waiting"})

	client := &http.Client{Timeout: 2 * writeTimeout}
	// Exchanges arrive across the start-up fetch's whole life and after it,
	// so some join it late and then could have started fetches of their own.
	starts := []time.Duration{0, 2 * time.Second, 5 * time.Second, 8 * time.Second, 9500 * time.Millisecond, 11 * time.Second}
	type result struct {
		status     int
		retryAfter string
		took       time.Duration
		err        error
	}
	results := make([]result, len(starts))
	var wg sync.WaitGroup
	for i, d := range starts {
		wg.Go(func() {
			time.Sleep(d)
			req, err := http.NewRequest(http.MethodPost, s.url+"/exchange", http.NoBody)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
			begin := time.Now()
			resp, err := client.Do(req)
			results[i].took = time.Since(begin)
			results[i].err = err
			if err == nil {
				results[i].status = resp.StatusCode
				results[i].retryAfter = resp.Header.Get("Retry-After")
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
	var longest time.Duration
	for i, r := range results {
		require.NoError(t, r.err, "exchange %d (sent at +%s) got no HTTP answer", i, starts[i])
		assert.Equal(t, http.StatusServiceUnavailable, r.status, "exchange %d", i)
		assert.NotEmpty(t, r.retryAfter, "exchange %d says when to retry", i)
		assert.Less(t, r.took, writeTimeout, "exchange %d answered within the write timeout", i)
		longest = max(longest, r.took)
	}
	t.Logf("longest wait for an answer: %s (fetch timeout %s, write timeout %s)", longest.Round(time.Millisecond), descope.MaxKeysFetchTimeout, writeTimeout)
}
