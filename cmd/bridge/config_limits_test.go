package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loadConfigWith loads the config from a minimal valid environment plus env.
func loadConfigWith(t *testing.T, env map[string]string) (*Config, error) {
	t.Helper()
	t.Setenv("DESCOPE_PROJECT_ID", testProject)
	t.Setenv("FIREBASE_PROJECT_ID", "demo-dfbridge")
	for k, v := range env {
		t.Setenv(k, v)
	}
	return loadConfig()
}

func TestLimitSettingsDefaultsAreSafe(t *testing.T) {
	for _, k := range []string{"CORS_ALLOWED_ORIGINS", "RATE_LIMIT_IP_PER_MINUTE", "RATE_LIMIT_IP_BURST",
		"RATE_LIMIT_USER_PER_MINUTE", "RATE_LIMIT_USER_BURST", "TRUSTED_PROXY_HOPS", "DESCOPE_KEYS_FETCH_TIMEOUT"} {
		t.Setenv(k, "") // restored after the test
		require.NoError(t, os.Unsetenv(k))
	}
	c, err := loadConfigWith(t, nil)
	require.NoError(t, err)
	assert.Empty(t, c.CORSAllowedOrigins, "no origin is allowed unless listed")
	assert.Equal(t, 0, c.TrustedProxyHops, "X-Forwarded-For is not trusted unless configured")
	assert.Positive(t, c.RateLimitIPPerMinute, "the per-address limit is on")
	assert.Positive(t, c.RateLimitUserPerMinute, "the per-user limit is on")
}

func TestCORSOriginsAreTrimmed(t *testing.T) {
	c, err := loadConfigWith(t, map[string]string{"CORS_ALLOWED_ORIGINS": " https://app.example.com ,http://localhost:5173,"})
	require.NoError(t, err)
	assert.Equal(t, []string{"https://app.example.com", "http://localhost:5173"}, c.CORSAllowedOrigins)
}

// A setting that would open the service wider than meant stops start-up with
// one line naming it.
func TestLimitSettingsThatStopStartUp(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		mention string
	}{
		{"a wildcard origin", map[string]string{"CORS_ALLOWED_ORIGINS": "*"}, "CORS_ALLOWED_ORIGINS"},
		{"a wildcard subdomain", map[string]string{"CORS_ALLOWED_ORIGINS": "https://*.example.com"}, "wildcard"},
		{"the null origin", map[string]string{"CORS_ALLOWED_ORIGINS": "null"}, "CORS_ALLOWED_ORIGINS"},
		{"an origin with a trailing slash", map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com/"}, "not an origin"},
		{"an origin with a path", map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com/login"}, "not an origin"},
		{"a bare host", map[string]string{"CORS_ALLOWED_ORIGINS": "app.example.com"}, "not an origin"},
		{"an origin in upper case", map[string]string{"CORS_ALLOWED_ORIGINS": "https://App.example.com"}, "upper case"},
		{"a negative per-address rate", map[string]string{"RATE_LIMIT_IP_PER_MINUTE": "-1"}, "RATE_LIMIT_IP_PER_MINUTE"},
		{"a zero burst with a per-user rate", map[string]string{"RATE_LIMIT_USER_BURST": "0"}, "RATE_LIMIT_USER_BURST"},
		{"a negative proxy count", map[string]string{"TRUSTED_PROXY_HOPS": "-1"}, "TRUSTED_PROXY_HOPS"},
		{"too many proxies", map[string]string{"TRUSTED_PROXY_HOPS": "9"}, "TRUSTED_PROXY_HOPS"},
		{"a fetch timeout too short to ever succeed", map[string]string{"DESCOPE_KEYS_FETCH_TIMEOUT": "1ms"}, "DESCOPE_KEYS_FETCH_TIMEOUT"},
		{"a fetch timeout longer than a request may take", map[string]string{"DESCOPE_KEYS_FETCH_TIMEOUT": "11s"}, "DESCOPE_KEYS_FETCH_TIMEOUT"},
	}
	for _, c := range cases {
		t.Run(c.name+" is refused", func(t *testing.T) {
			_, err := loadConfigWith(t, c.env)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.mention)
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}
