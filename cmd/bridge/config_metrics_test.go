package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/firebase"
)

// The deployment settings are checked at start, each with a one-line fix.
func TestConfigRefusesBadDeploymentSettings(t *testing.T) {
	cases := []struct {
		name  string
		env   map[string]string
		error string // empty: accepted
	}{
		{"metrics on a loopback port of their own are accepted", map[string]string{"METRICS_ADDR": "127.0.0.1:9464"}, ""},
		{"metrics on all interfaces are accepted when asked for", map[string]string{"METRICS_ADDR": ":9464"}, ""},
		{"a metrics address without a port is refused", map[string]string{"METRICS_ADDR": "127.0.0.1"}, "METRICS_ADDR"},
		{"a metrics address with a bad port is refused", map[string]string{"METRICS_ADDR": "127.0.0.1:http"}, "METRICS_ADDR"},
		{"a metrics address on the service's own port is refused", map[string]string{"METRICS_ADDR": "127.0.0.1:8080", "PORT": "8080"}, "own port"},
		{"a metrics switch that is not a boolean is refused", map[string]string{"METRICS_ON_MAIN_PORT": "maybe"}, "METRICS_ON_MAIN_PORT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setConfigEnv(t, map[string]string{
				"DESCOPE_PROJECT_ID":   testProject,
				"FIREBASE_PROJECT_ID":  "demo-dfbridge",
				"PORT":                 "8080",
				"METRICS_ON_MAIN_PORT": "false",
			}, c.env)
			_, err := loadConfig()
			if c.error == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.error)
		})
	}
}

// Traces are named by the project the service runs in: GOOGLE_CLOUD_PROJECT
// when it differs from Firebase's, else FIREBASE_PROJECT_ID.
func TestTraceProjectPrefersGoogleCloudProject(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "run-proj", (&Config{Firebase: firebase.Config{GoogleCloudProject: "run-proj", ProjectID: "fb-proj"}}).traceProject())
	assert.Equal(t, "fb-proj", (&Config{Firebase: firebase.Config{ProjectID: "fb-proj"}}).traceProject())
}
