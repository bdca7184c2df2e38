package main

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
)

// A repeat of the same session is answered from the exchange cache, and the
// look-ups are counted; with the cache off, nothing is looked up.
func TestRepeatExchangeUsesTheCache(t *testing.T) {
	t.Parallel()
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	cases := []struct {
		name         string
		env          map[string]string
		hits, misses float64
	}{
		{"with the default cache a repeat is a hit", nil, 1, 1},
		{"with EXCHANGE_CACHE_SIZE=0 nothing is cached", map[string]string{"EXCHANGE_CACHE_SIZE": "0"}, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startStack(t, "", sa, tc.env)
			tok := s.session(t, descopestub.Session{UserID: "U2repeat", Roles: []string{"viewer"}})

			first := s.exchangeBearer(t, tok)
			require.Equal(t, 200, first.Status, "body: %s", first.Body)
			second := s.exchangeBody(t, tok)
			require.Equal(t, 200, second.Status, "body: %s", second.Body)

			assert.Equal(t, first.json(t), second.json(t), "a repeat answers the same custom token and expiry")
			assert.Equal(t, tc.hits, counter(t, s, "hit"))
			assert.Equal(t, tc.misses, counter(t, s, "miss"))
		})
	}
}

func counter(t *testing.T, s *stack, result string) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, s.svc.metrics.ExchangeCache.WithLabelValues(result).Write(&m))
	return m.GetCounter().GetValue()
}

func TestExchangeCacheConfigIsChecked(t *testing.T) {
	cases := map[string]map[string]string{
		"a negative size":                   {"EXCHANGE_CACHE_SIZE": "-1"},
		"a TTL beyond a quarter of an hour": {"EXCHANGE_CACHE_TTL": "20m"},
		"a TTL under a second":              {"EXCHANGE_CACHE_TTL": "10ms"},
		"no exchange in flight":             {"EXCHANGE_IN_FLIGHT_PER_CORE": "0"},
		"a negative exchange queue":         {"EXCHANGE_QUEUE_MAX": "-1"},
	}
	for name, env := range cases {
		t.Run(name+" stops start-up naming the variable", func(t *testing.T) {
			t.Setenv("DESCOPE_PROJECT_ID", testProject)
			t.Setenv("FIREBASE_PROJECT_ID", "demo-dfbridge")
			for k, v := range env {
				t.Setenv(k, v)
			}
			_, err := loadConfig()
			require.Error(t, err)
			for k := range env {
				assert.Contains(t, err.Error(), k)
			}
		})
	}
}
