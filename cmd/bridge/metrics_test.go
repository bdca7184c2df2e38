package main

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
)

// scrape reads url in Prometheus' text format.
func scrape(t *testing.T, url string) (http.Header, map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return resp.Header, fams
}

// sample finds the series of family name whose labels include want, and
// returns its counter value or histogram count; -1 when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		if h := m.GetHistogram(); h != nil {
			return float64(h.GetSampleCount())
		}
		return m.GetCounter().GetValue()
	}
	return -1
}

func keyStack(t *testing.T, env map[string]string) *stack {
	t.Helper()
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	return startStack(t, "", sa, env)
}

// By default the public port has no /metrics and there is no other listener.
func TestMetricsAreNotOnThePublicPortByDefault(t *testing.T) {
	t.Parallel()
	s := keyStack(t, nil)
	resp := s.do(t, http.MethodGet, "/metrics", nil, nil)
	assert.Equal(t, http.StatusNotFound, resp.Status)
	assert.Equal(t, "not_found", resp.errorCode(t))
	assert.Empty(t, s.svc.metricsAddr)
}

// With METRICS_ADDR, a listener of its own serves /metrics: exchanges by
// result code, latency per route template (never a raw path, never a
// client's made-up method), and Descope key fetches.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	s := keyStack(t, map[string]string{"METRICS_ADDR": "127.0.0.1:0"})
	require.NotEmpty(t, s.svc.metricsAddr)

	ok := s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: "Umetrics"}))
	require.Equal(t, http.StatusOK, ok.Status, "body: %s", ok.Body)
	require.Equal(t, http.StatusUnauthorized, s.exchangeBearer(t, "not-a-jwt").Status)
	require.Equal(t, http.StatusUnauthorized, s.do(t, http.MethodPost, "/exchange", nil, nil).Status)
	require.Equal(t, http.StatusOK, s.do(t, http.MethodGet, "/healthz", nil, nil).Status)
	require.Equal(t, http.StatusNotFound, s.do(t, http.MethodGet, "/admin/secret-path-123", nil, nil).Status)
	require.Equal(t, http.StatusMethodNotAllowed, s.do(t, http.MethodGet, "/exchange", nil, nil).Status)
	require.Equal(t, http.StatusNotFound, s.do(t, "BREW", "/coffee", nil, nil).Status)

	header, fams := scrape(t, "http://"+s.svc.metricsAddr+"/metrics")
	assert.True(t, strings.HasPrefix(header.Get("Content-Type"), "text/plain"), header.Get("Content-Type"))

	const lat = "dfbridge_http_request_duration_seconds"
	cases := []struct {
		name   string
		family string
		labels map[string]string
		want   float64
	}{
		{"a good exchange is counted as ok", "dfbridge_exchanges_total", map[string]string{"code": "ok"}, 1},
		{"a malformed token is counted by its code", "dfbridge_exchanges_total", map[string]string{"code": "malformed_token"}, 1},
		{"a missing token is counted by its code", "dfbridge_exchanges_total", map[string]string{"code": "missing_token"}, 1},
		{"the good exchange's latency is under its route", lat, map[string]string{"route": "/exchange", "method": "POST", "status": "200"}, 1},
		{"refused exchanges' latency is under their status", lat, map[string]string{"route": "/exchange", "method": "POST", "status": "401"}, 2},
		{"health checks have their own route", lat, map[string]string{"route": "/healthz", "method": "GET", "status": "200"}, 1},
		{"an unknown path is unmatched, not its raw path", lat, map[string]string{"route": "unmatched", "method": "GET", "status": "404"}, 1},
		{"a wrong method is unmatched", lat, map[string]string{"route": "unmatched", "method": "GET", "status": "405"}, 1},
		{"a made-up method is labelled other", lat, map[string]string{"route": "unmatched", "method": "other", "status": "404"}, 1},
		{"no series carries a raw path", lat, map[string]string{"route": "/admin/secret-path-123"}, -1},
		{"no series carries a made-up method", lat, map[string]string{"method": "BREW"}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, sample(fams, c.family, c.labels))
		})
	}
	t.Run("the start-up key fetch is counted", func(t *testing.T) {
		assert.GreaterOrEqual(t, sample(fams, "dfbridge_descope_key_fetches_total", map[string]string{"reason": "startup", "outcome": "ok"}), 1.0)
	})
	t.Run("the public port still has no /metrics", func(t *testing.T) {
		assert.Equal(t, http.StatusNotFound, s.do(t, http.MethodGet, "/metrics", nil, nil).Status)
	})
	t.Run("the metrics listener serves nothing else", func(t *testing.T) {
		resp, err := http.Post("http://"+s.svc.metricsAddr+"/exchange", "application/json", strings.NewReader(`{}`))
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	})
}

// METRICS_ON_MAIN_PORT=true puts /metrics on the public port, as an
// explicit choice for deployments behind an ingress that keeps it private.
func TestMetricsOnTheMainPortWhenAskedFor(t *testing.T) {
	t.Parallel()
	s := keyStack(t, map[string]string{"METRICS_ON_MAIN_PORT": "true"})
	_, _ = scrape(t, s.url+"/metrics")
	_, fams := scrape(t, s.url+"/metrics")
	assert.Equal(t, 1.0, sample(fams, "dfbridge_http_request_duration_seconds",
		map[string]string{"route": "/metrics", "method": "GET", "status": "200"}))
}
