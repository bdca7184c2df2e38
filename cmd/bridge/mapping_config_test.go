package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
)

// setBaseEnv sets a minimal valid environment for loadConfig.
func setBaseEnv(t *testing.T, env map[string]string) {
	t.Helper()
	base := map[string]string{
		"DESCOPE_PROJECT_ID":             testProject,
		"FIREBASE_PROJECT_ID":            "demo-dfbridge",
		"FIREBASE_AUTH_EMULATOR_HOST":    "127.0.0.1:1",
		"GOOGLE_APPLICATION_CREDENTIALS": "",
		"FIREBASE_SERVICE_ACCOUNT_JSON":  "",
		"DESCOPE_MANAGEMENT_KEY":         "",
		"IDENTITY_MAPPING":               "",
	}
	for k, v := range env {
		base[k] = v
	}
	for k, v := range base {
		t.Setenv(k, v)
	}
}

func TestIdentityMappingConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "mapping.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"uid":{"from":"email"}}`), 0o600))
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"claims":{"include":["amr"]}}`), 0o600))

	refusals := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"a reserved claim at top level", map[string]string{"IDENTITY_MAPPING": `{"claims":{"include":["amr"]}}`},
			`config: IDENTITY_MAPPING: claims.include: "amr" is reserved by Firebase`},
		{"an unknown UID strategy", map[string]string{"IDENTITY_MAPPING": `{"uid":{"from":"phone"}}`},
			"config: IDENTITY_MAPPING: uid.from"},
		{"a mapping file with a reserved claim", map[string]string{"IDENTITY_MAPPING": bad},
			"config: IDENTITY_MAPPING: claims.include"},
		{"a mapping file that does not exist", map[string]string{"IDENTITY_MAPPING": filepath.Join(dir, "nope.json")},
			"cannot be read (no such file or directory)"},
		{"a mapping that is neither JSON nor a file", map[string]string{"IDENTITY_MAPPING": "uid=email"},
			"config: IDENTITY_MAPPING=\"uid=email\" cannot be read"},
		{"emailFromDescope without a management key",
			map[string]string{"IDENTITY_MAPPING": `{"migration":{"enabled":true,"emailFromDescope":true}}`},
			"migration.emailFromDescope needs DESCOPE_MANAGEMENT_KEY"},
	}
	for _, tc := range refusals {
		t.Run(tc.name+" stops start-up with one line naming the variable", func(t *testing.T) {
			setBaseEnv(t, tc.env)
			_, err := loadConfig()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "IDENTITY_MAPPING")
			assert.False(t, strings.Contains(err.Error(), "\n"), "one line: %q", err)
		})
	}

	accepts := []struct {
		name string
		env  map[string]string
		uid  string
	}{
		{"no mapping is the default mapping", nil, "U1"},
		{"inline JSON loads", map[string]string{"IDENTITY_MAPPING": ` {"uid":{"prefix":"d:"}} `}, "d:U1"},
		{"a file path loads", map[string]string{"IDENTITY_MAPPING": good}, "u1@example.com"},
		{"emailFromDescope loads with a management key", map[string]string{
			"IDENTITY_MAPPING":       `{"migration":{"enabled":true,"emailFromDescope":true}}`,
			"DESCOPE_MANAGEMENT_KEY": "K1",
		}, "U1"},
	}
	for _, tc := range accepts {
		t.Run(tc.name, func(t *testing.T) {
			setBaseEnv(t, tc.env)
			cfg, err := loadConfig()
			require.NoError(t, err)
			require.NotNil(t, cfg.mapping)
			id, err := cfg.mapping.Map(sessionFor("U1", "U1@example.com"))
			require.NoError(t, err)
			assert.Equal(t, tc.uid, id.UID)
		})
	}
}

func sessionFor(userID, email string) *bridge.Session {
	return &bridge.Session{UserID: userID, Email: email, EmailVerified: true}
}
