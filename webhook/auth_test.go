package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
)

func TestSecretsVerify(t *testing.T) {
	body := []byte(`[{"action":"UserDeleted","userId":"U1"}]`)
	const current, previous = "current-secret-0123456789", "previous-secret-0123456789"
	sig := func(secret string, b []byte) string { return descopestub.WebhookSignature(secret, b) }
	rawSig := func(secret string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		return base64.RawStdEncoding.EncodeToString(m.Sum(nil))
	}
	hmacOnly := NewSecrets([]string{current, previous}, nil)
	bearerOnly := NewSecrets(nil, []string{"bearer-secret-0123456789"})
	both := NewSecrets([]string{current}, []string{"bearer-secret-0123456789"})

	cases := []struct {
		name    string
		secrets Secrets
		header  http.Header
		ok      bool
	}{
		{"a signature with the current secret passes", hmacOnly, http.Header{SignatureHeader: {sig(current, body)}}, true},
		{"a signature with the previous secret passes during rotation", hmacOnly, http.Header{SignatureHeader: {sig(previous, body)}}, true},
		{"an unpadded base64 signature passes", hmacOnly, http.Header{SignatureHeader: {rawSig(current)}}, true},
		{"the header name is case-insensitive", hmacOnly, http.Header{"x-descope-webhook-s256": {sig(current, body)}}, true},
		{"a missing signature is refused", hmacOnly, http.Header{}, false},
		{"a signature made with a wrong secret is refused", hmacOnly, http.Header{SignatureHeader: {sig("wrong-secret-0123456789", body)}}, false},
		{"a signature over another body (forged) is refused", hmacOnly, http.Header{SignatureHeader: {sig(current, []byte(`[]`))}}, false},
		{"a signature that is not base64 is refused", hmacOnly, http.Header{SignatureHeader: {"not base64!"}}, false},
		{"a truncated signature is refused", hmacOnly, http.Header{SignatureHeader: {sig(current, body)[:20]}}, false},
		{"the bearer secret passes", bearerOnly, http.Header{"Authorization": {"Bearer bearer-secret-0123456789"}}, true},
		{"a wrong bearer secret is refused", bearerOnly, http.Header{"Authorization": {"Bearer bearer-secret-012345678"}}, false},
		{"a missing bearer is refused", bearerOnly, http.Header{}, false},
		{"a non-bearer scheme is refused", bearerOnly, http.Header{"Authorization": {"Basic bearer-secret-0123456789"}}, false},
		{"a signature alone is refused when a bearer is also required", both, http.Header{SignatureHeader: {sig(current, body)}}, false},
		{"a bearer alone is refused when a signature is also required", both, http.Header{"Authorization": {"Bearer bearer-secret-0123456789"}}, false},
		{"signature and bearer together pass", both, http.Header{SignatureHeader: {sig(current, body)}, "Authorization": {"Bearer bearer-secret-0123456789"}}, true},
		{"nothing passes when no secret is configured", NewSecrets(nil, []string{""}), http.Header{SignatureHeader: {sig("", body)}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, vs := range tc.header {
				for _, v := range vs {
					h.Add(k, v)
				}
			}
			err := tc.secrets.Verify(h, body)
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, bridge.CodeUnauthorized, bridge.CodeOf(err))
		})
	}
}
