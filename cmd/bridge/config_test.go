package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
)

func TestConfigRefusesBadSettingsWithOneLineNamingThem(t *testing.T) {
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "sa.json")
	require.NoError(t, os.WriteFile(keyFile, sa.JSON, 0o600))

	valid := map[string]string{
		"DESCOPE_PROJECT_ID":            "P2abcdef",
		"FIREBASE_SERVICE_ACCOUNT_JSON": string(sa.JSON),
	}
	cases := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"a missing project ID is named", map[string]string{"DESCOPE_PROJECT_ID": ""}, "DESCOPE_PROJECT_ID"},
		{"a project ID with odd characters is refused", map[string]string{"DESCOPE_PROJECT_ID": "P2/../x"}, "DESCOPE_PROJECT_ID"},
		{"a port that is not a number is named", map[string]string{"PORT": "eighty"}, "PORT"},
		{"a port out of range is named", map[string]string{"PORT": "70000"}, "PORT"},
		{"plain http to a remote Descope is refused", map[string]string{"DESCOPE_BASE_URL": "http://api.descope.com"}, "DESCOPE_BASE_URL"},
		{"a base URL that is not a URL is refused", map[string]string{"DESCOPE_BASE_URL": "descope"}, "DESCOPE_BASE_URL"},
		{"a bad duration is named", map[string]string{"DESCOPE_KEYS_REFRESH_INTERVAL": "often"}, "DESCOPE_KEYS_REFRESH_INTERVAL"},
		{"a leeway wider than the SDK's is refused", map[string]string{"TOKEN_LEEWAY": "1m"}, "TOKEN_LEEWAY"},
		{"an unknown log level is named", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"a key JSON that is not a service account is refused", map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": `{"type":"user"}`}, "FIREBASE_SERVICE_ACCOUNT_JSON"},
		{"two key sources at once are refused", map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": keyFile}, "GOOGLE_APPLICATION_CREDENTIALS"},
		{"an unreadable key file is named", map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": "", "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/sa.json"}, "GOOGLE_APPLICATION_CREDENTIALS"},
		{"keyless signing needs a Firebase project", map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": ""}, "FIREBASE_PROJECT_ID"},
		{"the emulator needs a Firebase project", map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": "", "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}, "FIREBASE_PROJECT_ID"},
		{"a wildcard origin is refused", map[string]string{"CORS_ALLOWED_ORIGINS": "*"}, "CORS_ALLOWED_ORIGINS"},
		{"a wildcard subdomain is refused", map[string]string{"CORS_ALLOWED_ORIGINS": "https://*.example.com"}, "CORS_ALLOWED_ORIGINS"},
		{"the null origin is refused", map[string]string{"CORS_ALLOWED_ORIGINS": "null"}, "CORS_ALLOWED_ORIGINS"},
		{"an origin with a trailing slash is refused", map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com/"}, "CORS_ALLOWED_ORIGINS"},
		{"an origin with a path is refused", map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com/login"}, "CORS_ALLOWED_ORIGINS"},
		{"a bare host as an origin is refused", map[string]string{"CORS_ALLOWED_ORIGINS": "app.example.com"}, "CORS_ALLOWED_ORIGINS"},
		{"an origin in upper case is refused", map[string]string{"CORS_ALLOWED_ORIGINS": "https://App.example.com"}, "CORS_ALLOWED_ORIGINS"},
		{"a negative per-address rate is refused", map[string]string{"RATE_LIMIT_IP_PER_MINUTE": "-1"}, "RATE_LIMIT_IP_PER_MINUTE"},
		{"a zero burst under a per-user rate is refused", map[string]string{"RATE_LIMIT_USER_BURST": "0"}, "RATE_LIMIT_USER_BURST"},
		{"a negative proxy count is refused", map[string]string{"TRUSTED_PROXY_HOPS": "-1"}, "TRUSTED_PROXY_HOPS"},
		{"more trusted proxies than any real chain is refused", map[string]string{"TRUSTED_PROXY_HOPS": "9"}, "TRUSTED_PROXY_HOPS"},
		{"a key fetch timeout too short to succeed is refused", map[string]string{"DESCOPE_KEYS_FETCH_TIMEOUT": "1ms"}, "DESCOPE_KEYS_FETCH_TIMEOUT"},
		{"a key fetch timeout past the write timeout is refused", map[string]string{"DESCOPE_KEYS_FETCH_TIMEOUT": "11s"}, "DESCOPE_KEYS_FETCH_TIMEOUT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setConfigEnv(t, valid, tc.env)
			_, err := loadConfig()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantVar)
			assert.NotContains(t, err.Error(), "\n", "config errors are one line")
			assert.NotContains(t, err.Error(), "PRIVATE KEY", "config errors never echo a key")
		})
	}

	t.Run("a key file alone is accepted", func(t *testing.T) {
		setConfigEnv(t, valid, map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": "", "GOOGLE_APPLICATION_CREDENTIALS": keyFile})
		cfg, err := loadConfig()
		require.NoError(t, err)
		assert.Equal(t, 8080, cfg.Port)
		assert.Equal(t, "https://api.descope.com", cfg.DescopeBaseURL)
	})
}

func setConfigEnv(t *testing.T, layers ...map[string]string) {
	t.Helper()
	// Every variable the service reads, cleared so a case sees only its own.
	for k := range configVars() {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
	for _, l := range layers {
		for k, v := range l {
			t.Setenv(k, v)
		}
	}
}
