package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/authemu"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/iamstub"
	"github.com/dfbridge/dfbridge/emulator/redisserver"
)

// doctorStack is the local stack doctor is pointed at: a Descope stand-in
// with a management key, and the environment the service would run with.
func doctorStack(t *testing.T, env map[string]string) map[string]string {
	t.Helper()
	stub, err := descopestub.New(descopestub.Options{ProjectID: testProject, ManagementKey: "mgmt-secret"})
	require.NoError(t, err)
	ts := httptest.NewServer(stub.Handler())
	t.Cleanup(ts.Close)
	base := map[string]string{
		"DESCOPE_PROJECT_ID": testProject, "DESCOPE_BASE_URL": ts.URL, "DESCOPE_MANAGEMENT_KEY": "mgmt-secret",
		"FIREBASE_PROJECT_ID": "demo-dfbridge",
	}
	for k, v := range env {
		base[k] = v
	}
	setConfigEnv(t, base)
	return base
}

// runDoctorWith runs doctor in-process on the environment, with tweak
// applied to the config (what the environment cannot carry: a Google
// stand-in), and returns the checks by name, the text and the exit error.
func runDoctorWith(t *testing.T, tweak func(*Config)) (map[string]doctorCheck, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := loadConfig()
	require.NoError(t, err)
	if tweak != nil {
		tweak(cfg)
	}
	start := time.Now()
	checks := doctor(ctx, cfg)
	took := time.Since(start)
	var out bytes.Buffer
	rerr := report(checks, false, &out)
	t.Logf("bridge doctor (%v):\n%s", took.Round(time.Millisecond), out.String())
	byName := map[string]doctorCheck{}
	for _, c := range checks {
		byName[c.Check] = c
	}
	return byName, out.String(), rerr
}

// On the local stack every check passes: the Auth emulator (tenants, and
// a minted token accepted by Identity Toolkit), the Descope stand-in (keys
// and the management key), a real redis-server, both webhook routes, CORS,
// and Cloud Run's proxy setting.
func TestDoctorOnTheLocalStackPassesEveryCheck(t *testing.T) {
	emu := authemu.ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tenant, err := emu.CreateTenant(ctx, "doctor")
	require.NoError(t, err)
	redis := redisserver.Start(t)
	doctorStack(t, map[string]string{
		"FIREBASE_AUTH_EMULATOR_HOST": emu.Host, "FIREBASE_WEB_API_KEY": "local-web-api-key",
		"IDENTITY_MAPPING":           `{"tenants":{"map":{"T2acme":"` + tenant + `"}}}`,
		"REDIS_URL":                  redis.URL(),
		"AUDIT_WEBHOOK_HMAC_SECRETS": auditSecret, "EXTERNAL_TOKEN_HMAC_SECRETS": connectorSecret,
		"CORS_ALLOWED_ORIGINS": "https://app.example.com", "TRUSTED_PROXY_HOPS": "1",
	})
	checks, text, err := runDoctorWith(t, nil)
	require.NoError(t, err)
	for _, name := range []string{"descope_keys", "descope_management_key", "signer", "firebase_accepts_tokens",
		"tenants", "redis", "webhooks", "cors"} {
		assert.Equal(t, "ok", checks[name].Status, "%s: %s", name, checks[name].Detail)
	}
	assert.Len(t, strings.Split(strings.TrimSpace(text), "\n"), 9, "one line per check")
	assert.NotContains(t, text, "local-web-api-key", "the API key is not printed")
	assert.NotContains(t, text, "mgmt-secret")
	assert.NotContains(t, text, "test-redis-password")
}

// Keyless signing is checked for real: the metadata identity, then a
// signBlob of a probe, then Identity Toolkit accepting the signed token.
// Without the grant, the failure names the role and the account.
func TestDoctorChecksKeylessSigningForReal(t *testing.T) {
	emu := authemu.ForTest(t)
	t.Run("with the grant every signing check passes", func(t *testing.T) {
		doctorStack(t, map[string]string{"FIREBASE_WEB_API_KEY": "local-web-api-key"})
		iam, withIAM := googleStandIn(t, iamstub.Options{Email: keylessAccount, ProjectID: "demo-dfbridge"})
		checks, _, err := runDoctorWith(t, func(c *Config) {
			withIAM(c)
			c.identityToolkitBase = "http://" + emu.Host + "/identitytoolkit.googleapis.com"
		})
		require.NoError(t, err)
		assert.Equal(t, "ok", checks["signer"].Status, checks["signer"].Detail)
		assert.Contains(t, checks["signer"].Detail, keylessAccount)
		assert.Equal(t, "ok", checks["firebase_accepts_tokens"].Status, checks["firebase_accepts_tokens"].Detail)
		assert.Positive(t, iam.Calls().SignBlobs, "a real signBlob")
	})
	t.Run("without the grant the failure names the role and the account", func(t *testing.T) {
		doctorStack(t, nil)
		_, withIAM := googleStandIn(t, iamstub.Options{Email: keylessAccount, ProjectID: "demo-dfbridge", Denied: true})
		checks, _, err := runDoctorWith(t, withIAM)
		require.ErrorIs(t, err, errDoctorFailed)
		assert.Equal(t, "fail", checks["signer"].Status)
		assert.Contains(t, checks["signer"].Fix, "roles/iam.serviceAccountTokenCreator")
		assert.Contains(t, checks["signer"].Fix, keylessAccount)
		assert.Equal(t, "skip", checks["firebase_accepts_tokens"].Status)
	})
}

// Each check fails on its own misconfiguration, with the exit error and a
// line naming the setting to change.
func TestDoctorNamesTheSettingOfEachFailure(t *testing.T) {
	emu := authemu.ForTest(t)
	redis := redisserver.Start(t)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest) // Identity Toolkit's answer to a key of another project
		_, _ = w.Write([]byte(`{"error":{"code":400,"message":"INVALID_CUSTOM_TOKEN : The custom token corresponds to a different audience."}}`))
	}))
	t.Cleanup(refusing.Close)
	emulated := map[string]string{"FIREBASE_AUTH_EMULATOR_HOST": emu.Host}
	cases := []struct {
		name  string
		env   map[string]string
		tweak func(*Config)
		check string
		fix   string
	}{
		{"another Descope project's ID", map[string]string{"DESCOPE_PROJECT_ID": "P2wrongproject"}, nil,
			"descope_keys", "DESCOPE_PROJECT_ID"},
		{"a management key Descope refuses", map[string]string{"DESCOPE_MANAGEMENT_KEY": "not-the-key"}, nil,
			"descope_management_key", "DESCOPE_MANAGEMENT_KEY"},
		{"a Web API key of another project", map[string]string{"FIREBASE_WEB_API_KEY": "other-project-key"},
			func(c *Config) { c.identityToolkitBase = refusing.URL }, "firebase_accepts_tokens", "FIREBASE_WEB_API_KEY"},
		{"a tenant the mapping names that does not exist", map[string]string{"IDENTITY_MAPPING": `{"tenants":{"map":{"T2acme":"` + uniqueUser("missing") + `"}}}`},
			nil, "tenants", "IDENTITY_MAPPING"},
		{"a Redis password that is wrong", map[string]string{"REDIS_URL": strings.Replace(redis.URL(), redisserver.Password, "wrong", 1)},
			nil, "redis", "REDIS_URL"},
		{"an unreachable Redis", map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"}, nil, "redis", "REDIS_URL"},
		{"a Descope base URL nothing answers at", map[string]string{"DESCOPE_BASE_URL": "http://127.0.0.1:1"}, nil,
			"descope_keys", "DESCOPE_BASE_URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range emulated {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			doctorStack(t, env)
			start := time.Now()
			checks, text, err := runDoctorWith(t, tc.tweak)
			require.ErrorIs(t, err, errDoctorFailed, "doctor exits non-zero")
			assert.Equal(t, "fail", checks[tc.check].Status, checks[tc.check].Detail)
			assert.Contains(t, checks[tc.check].Fix, tc.fix)
			for name, c := range checks {
				if name != tc.check && c.Status == "fail" {
					t.Errorf("%s also failed (%s): only the setting at fault is named", name, c.Fix)
				}
			}
			assert.Contains(t, text, "fail  "+tc.check)
			assert.Less(t, time.Since(start), 2*checkTimeout, "bounded")
			assert.NotContains(t, text, redisserver.Password)
		})
	}
}

// A setting the service would refuse is doctor's first and only failure,
// named; --json prints the same report as one document, and the process
// exit follows the result.
func TestDoctorReportsBadConfigAndSpeaksJSON(t *testing.T) {
	doctorStack(t, map[string]string{"CORS_ALLOWED_ORIGINS": "app.example.com"})
	var out, errOut bytes.Buffer
	err := runDoctor(context.Background(), []string{"--json"}, &out, &errOut)
	require.ErrorIs(t, err, errDoctorFailed)
	var rep struct {
		OK     bool          `json:"ok"`
		Checks []doctorCheck `json:"checks"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	assert.False(t, rep.OK)
	require.Len(t, rep.Checks, 1)
	assert.Equal(t, "config", rep.Checks[0].Check)
	assert.Contains(t, rep.Checks[0].Detail, "CORS_ALLOWED_ORIGINS")
}

// On Cloud Run doctor accepts the two documented proxy set-ups and says
// which it assumed; any other count fails, naming TRUSTED_PROXY_HOPS.
func TestDoctorAcceptsTheDocumentedProxySetUps(t *testing.T) {
	cfg := defaultConfig()
	cfg.Server.CloudRunService = "dfbridge"
	for hops, want := range map[int]string{1: "called directly", 2: "load balancer"} {
		cfg.Edge.TrustedProxyHops = hops
		c := checkCloudRun(&cfg)
		assert.Equal(t, "ok", c.Status, "TRUSTED_PROXY_HOPS=%d", hops)
		assert.Contains(t, c.Detail, want)
	}
	for _, hops := range []int{0, 3} {
		cfg.Edge.TrustedProxyHops = hops
		c := checkCloudRun(&cfg)
		assert.Equal(t, "fail", c.Status, "TRUSTED_PROXY_HOPS=%d", hops)
		assert.True(t, strings.HasPrefix(c.Fix, "TRUSTED_PROXY_HOPS"), c.Fix)
	}
}

// On Cloud Run the check that Firebase accepts the tokens must run: with
// no FIREBASE_WEB_API_KEY it fails, unless DOCTOR_WAIVE names it; off
// Cloud Run it is skipped, as before.
func TestDoctorOnCloudRunRequiresTheTokenCheckUnlessWaived(t *testing.T) {
	cfg := defaultConfig()
	c := checkTokenAccepted(t.Context(), &cfg, nil)
	assert.Equal(t, "skip", c.Status, "not on Cloud Run")
	cfg.Server.CloudRunService = "dfbridge"
	c = checkTokenAccepted(t.Context(), &cfg, nil)
	assert.Equal(t, "fail", c.Status)
	assert.Contains(t, c.Fix, "FIREBASE_WEB_API_KEY")
	assert.Contains(t, c.Fix, "DOCTOR_WAIVE=firebase_accepts_tokens")
	cfg.Server.DoctorWaive = []string{"firebase_accepts_tokens"}
	c = checkTokenAccepted(t.Context(), &cfg, nil)
	assert.Equal(t, "skip", c.Status, "waived by name")
}

// Settings that would reach production looking healthy fail doctor's
// config check, each named: the emulator on Cloud Run, a placeholder
// secret, a variable one typo away from the service's.
func TestDoctorFailsOnProductionMistakes(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"the Auth emulator on Cloud Run", map[string]string{"K_SERVICE": "dfbridge", "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"},
			"FIREBASE_AUTH_EMULATOR_HOST"},
		{"the example's connector secret", map[string]string{"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:1",
			"EXTERNAL_TOKEN_HMAC_SECRETS": "replace-with-another-random-secret"}, "EXTERNAL_TOKEN_HMAC_SECRETS"},
		{"a typo in a variable's name", map[string]string{"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:1",
			"CORS_ALLOWED_ORIGIN": "https://app.example.com"}, "did you mean CORS_ALLOWED_ORIGINS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doctorStack(t, tc.env)
			var out, errOut bytes.Buffer
			err := runDoctor(t.Context(), nil, &out, &errOut)
			require.ErrorIs(t, err, errDoctorFailed)
			assert.Contains(t, out.String(), "fail  config")
			assert.Contains(t, out.String(), tc.want)
		})
	}
}
