package main

import (
	"os"
	"path/filepath"
	"strings"
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
		{"the example's connector secret is refused", map[string]string{"DESCOPE_MANAGEMENT_KEY": "K2mgmt", "EXTERNAL_TOKEN_HMAC_SECRETS": "replace-with-another-random-secret"}, "EXTERNAL_TOKEN_HMAC_SECRETS"},
		{"the example's audit secret is refused", map[string]string{"DESCOPE_MANAGEMENT_KEY": "K2mgmt", "AUDIT_WEBHOOK_HMAC_SECRETS": "replace-with-openssl-rand-base64-32"}, "AUDIT_WEBHOOK_HMAC_SECRETS"},
		{"a secret with too little entropy is refused", map[string]string{"DESCOPE_MANAGEMENT_KEY": "K2mgmt", "AUDIT_WEBHOOK_API_KEYS": "secretsecretsecretsecret"}, "AUDIT_WEBHOOK_API_KEYS"},
		{"a Basic password that is a placeholder is refused", map[string]string{"DESCOPE_MANAGEMENT_KEY": "K2mgmt", "EXTERNAL_TOKEN_BASIC_AUTH": "descope:changeme-changeme-changeme"}, "EXTERNAL_TOKEN_BASIC_AUTH"},
		{"the example's management key is refused", map[string]string{"DESCOPE_MANAGEMENT_KEY": "K2replace-with-a-management-key"}, "DESCOPE_MANAGEMENT_KEY"},
		{"the example's Redis AUTH string is refused", map[string]string{"REDIS_URL": "rediss://:AUTH-STRING@10.0.0.3:6378/0"}, "REDIS_URL"},
		{"the Auth emulator on Cloud Run is refused", map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": "", "K_SERVICE": "dfbridge",
			"FIREBASE_PROJECT_ID": "demo-x", "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}, "FIREBASE_AUTH_EMULATOR_HOST"},
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
		assert.Equal(t, 8080, cfg.Server.Port)
		assert.Equal(t, "https://api.descope.com", cfg.Descope.BaseURL)
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

// Each signing misconfiguration a newcomer meets stops start-up with one
// line naming the setting and saying what is wrong, not the Admin SDK's
// "unexpected end of JSON input".
func TestSigningMisconfigurationsNameTheSetting(t *testing.T) {
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	userCreds := `{"type":"authorized_user","client_id":"x.apps.googleusercontent.com","client_secret":"s3cret-value","refresh_token":"1//rt"}`
	badKey := strings.Replace(string(sa.JSON), `MII`, `XXX`, 1)
	noEmail := strings.Replace(string(sa.JSON), `"client_email"`, `"client_mail"`, 1)
	base := map[string]string{"DESCOPE_PROJECT_ID": "P2abcdef"}
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"a truncated key file", map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": file("trunc.json", string(sa.JSON[:40]))},
			[]string{"GOOGLE_APPLICATION_CREDENTIALS", "is not JSON"}},
		{"gcloud user credentials as the key file", map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": file("adc.json", userCreds)},
			[]string{"GOOGLE_APPLICATION_CREDENTIALS", `"authorized_user"`, "service-account key", "keyless"}},
		{"gcloud user credentials as the key JSON", map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": userCreds},
			[]string{"FIREBASE_SERVICE_ACCOUNT_JSON", `"authorized_user"`}},
		{"a key JSON that is not JSON", map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": "not json"},
			[]string{"FIREBASE_SERVICE_ACCOUNT_JSON", "is not JSON"}},
		{"a JSON document with no type", map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": `{"private_key":"x"}`},
			[]string{"FIREBASE_SERVICE_ACCOUNT_JSON", "not a service-account key"}},
		{"a key whose private key is damaged", map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": file("bad.json", badKey)},
			[]string{"GOOGLE_APPLICATION_CREDENTIALS", "bad private_key"}},
		{"a key without client_email", map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": noEmail},
			[]string{"FIREBASE_SERVICE_ACCOUNT_JSON", "client_email"}},
		{"an emulator host with a scheme", map[string]string{"FIREBASE_PROJECT_ID": "demo-x", "FIREBASE_AUTH_EMULATOR_HOST": "http://127.0.0.1:9099"},
			[]string{"FIREBASE_AUTH_EMULATOR_HOST", "no scheme", `"127.0.0.1:9099"`}},
		{"an emulator host with no port", map[string]string{"FIREBASE_PROJECT_ID": "demo-x", "FIREBASE_AUTH_EMULATOR_HOST": "localhost"},
			[]string{"FIREBASE_AUTH_EMULATOR_HOST", "host:port"}},
		{"keyless with no project anywhere", map[string]string{},
			[]string{"FIREBASE_PROJECT_ID", "GOOGLE_CLOUD_PROJECT"}},
		{"a key for another project than FIREBASE_PROJECT_ID", map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": string(sa.JSON),
			"FIREBASE_PROJECT_ID": "demo-dfbrigde"}, []string{`"demo-dfbridge"`, `"demo-dfbrigde"`, "FIREBASE_PROJECT_ID", "FIREBASE_KEY_OTHER_PROJECT"}},
		{"a key file for another project than GOOGLE_CLOUD_PROJECT", map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": file("sa.json", string(sa.JSON)),
			"GOOGLE_CLOUD_PROJECT": "my-firebse-projetc"}, []string{`"demo-dfbridge"`, `"my-firebse-projetc"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is refused in one line", func(t *testing.T) {
			setConfigEnv(t, base, tc.env)
			_, err := loadConfig()
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "\n")
			assert.NotContains(t, err.Error(), "s3cret-value", "never echoes a secret")
			assert.NotContains(t, err.Error(), "PRIVATE KEY")
		})
	}

	t.Run("the project comes from Google's own variables, as the Admin SDK reads them", func(t *testing.T) {
		for _, name := range []string{"GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"} {
			setConfigEnv(t, base, map[string]string{name: "from-" + strings.ToLower(name)})
			cfg, err := loadConfig()
			require.NoError(t, err, name)
			assert.Equal(t, "from-"+strings.ToLower(name), cfg.Firebase.Project())
		}
	})
	t.Run("a key for another project is accepted when FIREBASE_KEY_OTHER_PROJECT says so", func(t *testing.T) {
		setConfigEnv(t, base, map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": string(sa.JSON),
			"FIREBASE_PROJECT_ID": "other-project", "FIREBASE_KEY_OTHER_PROJECT": "true"})
		cfg, err := loadConfig()
		require.NoError(t, err)
		assert.Equal(t, "other-project", cfg.Firebase.Project())
	})
	t.Run("with a key, the project and account come from the key", func(t *testing.T) {
		setConfigEnv(t, base, map[string]string{"FIREBASE_SERVICE_ACCOUNT_JSON": string(sa.JSON)})
		cfg, err := loadConfig()
		require.NoError(t, err)
		assert.Equal(t, "demo-dfbridge", cfg.Firebase.Project())
		assert.Contains(t, cfg.Firebase.KeyAccount(), "@demo-dfbridge.iam.gserviceaccount.com")
	})
}
