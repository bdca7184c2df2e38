package secretcheck_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dfbridge/dfbridge/internal/secretcheck"
)

func TestWeakSecretsAreRefusedWithTheirReason(t *testing.T) {
	cases := []struct {
		name, value, reason string
	}{
		{"the example's connector placeholder", "replace-with-another-random-secret", "placeholder"},
		{"the example's audit placeholder", "replace-with-openssl-rand-base64-32", "placeholder"},
		{"a placeholder in capitals", "CHANGEME-0123456789abcdef", "placeholder"},
		{"a short secret", "aB3$xY9!", "shorter than 16"},
		{"one character repeated", "aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "too little entropy"},
		{"a word repeated", "secretsecretsecretsecret", "too little entropy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Contains(t, secretcheck.Weak(tc.value), tc.reason)
		})
	}
}

func TestRandomSecretsPass(t *testing.T) {
	for _, v := range []string{
		"q1Jx3bVt0d9oZk6H8p2WmCsyLrAeNuTgFiYwB5nD7cQ=", // openssl rand -base64 32
		"connector-hmac-secret-0123456789",
		"3f9a1c77e0b24d5e8a6b0c1d2e3f4a5b",
	} {
		assert.Empty(t, secretcheck.Weak(v), v)
	}
}
