package main

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
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

// The chart is drawn from the phases' figures, in either format.
func TestChartIsWrittenAsSVGAndPNG(t *testing.T) {
	all := []series{
		{name: "dfbridge", conns: []int{1, 16, 64}, rate: []float64{700, 1500, 1480}, p99: []float64{2, 30, 100}},
		{name: "peer", conns: []int{1, 16, 64}, rate: []float64{600, 1400, 1300}, p99: []float64{4, 20, 80}},
	}
	dir := t.TempDir()
	require.NoError(t, writeChart(dir+"/c.svg", "title", all))
	svg, err := os.ReadFile(dir + "/c.svg")
	require.NoError(t, err)
	assert.Contains(t, string(svg), "<svg")
	assert.Contains(t, string(svg), "dfbridge")
	assert.Contains(t, string(svg), "p99 latency (ms)")
	require.NoError(t, writeChart(dir+"/c.png", "title", all))
	png, err := os.ReadFile(dir + "/c.png")
	require.NoError(t, err)
	assert.Equal(t, "\x89PNG", string(png[:4]))
	assert.Error(t, writeChart(dir+"/c.gif", "title", all))
}

// Open loop measures from the intended send time: a server that answers
// one request per 20 ms on one connection, offered 100 a second, falls
// further behind with every request, and the latencies show the backlog
// that a closed loop (which waits for each answer before it sends) hides.
func TestOpenLoopCountsTheWaitForABusyServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	open, err := driveOpen(t.Context(), addr, []string{"s"}, 100, 1, 600*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, 60, open.ok)
	// The last request is due at 590 ms and answered after about 60 × 20 ms.
	assert.Greater(t, open.quantile(1), 400*time.Millisecond)
	assert.Less(t, open.quantile(0), 100*time.Millisecond)

	closed, err := drive(t.Context(), addr, []string{"s"}, 1, 300*time.Millisecond)
	require.NoError(t, err)
	assert.Less(t, closed.quantile(0.5), 100*time.Millisecond)
}
