package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
)

// driveThroughShutdown runs kept-alive clients against s until the bridge
// is gone, stopping it (as SIGTERM does) part-way. A request that fails
// other than by its connection being refused was written to an open
// connection and cut. Go's client retries a POST only when nothing of it
// was written, so each cut counted here is a request lost.
func driveThroughShutdown(t *testing.T, s *stack, tok string, clients int) (ok, cut, closeAnswers int64, readyDuringDrain int) {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	var nOK, nCut, nClose atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				req, _ := http.NewRequest(http.MethodPost, s.url+"/exchange", http.NoBody)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				var oe *net.OpError
				switch {
				case errors.As(err, &oe) && oe.Op == "dial":
					return // the listener is closed: the bridge is gone
				case err != nil:
					nCut.Add(1)
					t.Logf("cut: %v", err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					nOK.Add(1)
				}
				if resp.Close {
					nClose.Add(1)
				}
			}
		})
	}
	// A prober with a kept-alive connection of its own, as a load
	// balancer's health check has: new connections are refused once the
	// drain starts.
	probe := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	resp, err := probe.Get(s.url + "/readyz")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.Eventually(t, func() bool { return nOK.Load() >= 20 }, 10*time.Second, 5*time.Millisecond,
		"load is flowing before the stop")
	go s.cancel() // what SIGTERM does through signal.NotifyContext
	require.Eventually(t, s.svc.draining.Load, 5*time.Second, time.Millisecond, "the drain starts")
	if resp, err := probe.Get(s.url + "/readyz"); err == nil {
		readyDuringDrain = resp.StatusCode
		_ = resp.Body.Close()
	}
	wg.Wait()
	s.stop(t)
	return nOK.Load(), nCut.Load(), nClose.Load(), readyDuringDrain
}

func TestShutdownDrainsKeptAliveClientsWithoutCuttingRequests(t *testing.T) {
	t.Parallel()
	s := hostileStack(t, map[string]string{
		"SHUTDOWN_DRAIN":             "1s",
		"SHUTDOWN_TIMEOUT":           "5s",
		"RATE_LIMIT_IP_PER_MINUTE":   "0",
		"RATE_LIMIT_USER_PER_MINUTE": "0",
	})
	tok := s.session(t, descopestub.Session{UserID: "U2drain"})
	ok, cut, closing, ready := driveThroughShutdown(t, s, tok, 8)
	t.Logf("through the shutdown: %d exchanges answered 200, %d answers said Connection: close, %d requests cut", ok, closing, cut)
	assert.Zero(t, cut, "no request written to an open connection is cut")
	assert.Positive(t, closing, "answers during the drain close their connections")
	assert.Equal(t, http.StatusServiceUnavailable, ready, "/readyz fails as soon as the drain starts")
	assert.Contains(t, s.logs.String(), `"message":"shutting down: draining"`)
	assert.Contains(t, s.logs.String(), `"message":"shut down"`)
}
