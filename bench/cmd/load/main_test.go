package main

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The load generator reads each response's status and skips exactly its
// body, so the next response on the kept-alive connection parses too.
func TestRoundTripReadsResponsesOnAKeptAliveConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			http.Error(w, strings.Repeat("x", 300), http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"externalToken":"t"}`))
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	br := bufio.NewReader(conn)

	for _, tc := range []struct {
		session string
		status  int
	}{{"good", 200}, {"bad", 401}, {"good", 200}} {
		status, err := roundTrip(conn, br, exchangeRequest(tc.session))
		require.NoError(t, err)
		assert.Equal(t, tc.status, status)
	}
}

func TestQuantilesOfAPhase(t *testing.T) {
	r := &result{}
	r.add(&result{ok: 3, latencies: []time.Duration{3, 1, 2}})
	r.add(&result{ok: 2, latencies: []time.Duration{5, 4}})
	assert.Equal(t, 5, r.ok)
	assert.Equal(t, time.Duration(1), r.quantile(0))
	assert.Equal(t, time.Duration(3), r.quantile(0.5))
	assert.Equal(t, time.Duration(5), r.quantile(1))
}
