package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minimalEnv is the least a keyless bridge needs to start.
var minimalEnv = map[string]string{"DESCOPE_PROJECT_ID": testProject, "FIREBASE_PROJECT_ID": "demo-dfbridge"}

func TestLimitSettingsDefaultsAreSafe(t *testing.T) {
	setConfigEnv(t, minimalEnv)
	c, err := loadConfig()
	require.NoError(t, err)
	assert.Empty(t, c.Edge.CORSAllowedOrigins, "no origin is allowed unless listed")
	assert.Equal(t, 0, c.Edge.TrustedProxyHops, "X-Forwarded-For is not trusted unless configured")
	assert.Positive(t, c.Edge.RateLimitIPPerMinute, "the per-address limit is on")
	assert.Positive(t, c.Edge.RateLimitUserPerMinute, "the per-user limit is on")
}

func TestCORSOriginsAreTrimmed(t *testing.T) {
	setConfigEnv(t, minimalEnv, map[string]string{"CORS_ALLOWED_ORIGINS": " https://app.example.com ,http://localhost:5173,"})
	c, err := loadConfig()
	require.NoError(t, err)
	assert.Equal(t, []string{"https://app.example.com", "http://localhost:5173"}, c.Edge.Origins())
}
