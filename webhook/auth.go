package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/dfbridge/dfbridge/bridge"
)

// SignatureHeader carries Descope's connector signature: base64 of
// HMAC-SHA256 over the raw body bytes, keyed with the connector's HMAC
// secret.
const SignatureHeader = "X-Descope-Webhook-S256"

// Secrets authenticate one Descope connector. With HMAC secrets configured,
// a call must carry a signature made with one of them; with bearer secrets
// configured, an Authorization bearer equal to one of them; with both, both.
// Several of each are accepted at once, so a secret can be rotated with no
// window where Descope's calls fail: add the new one, switch the connector,
// remove the old one.
type Secrets struct {
	hmac [][]byte
	// bearer holds SHA-256 digests, so every comparison is over 32 bytes
	// and takes the same time whatever the lengths involved.
	bearer [][sha256.Size]byte
}

// NewSecrets builds Secrets; empty strings are skipped.
func NewSecrets(hmacSecrets, bearerSecrets []string) Secrets {
	var s Secrets
	for _, h := range hmacSecrets {
		if h != "" {
			s.hmac = append(s.hmac, []byte(h))
		}
	}
	for _, b := range bearerSecrets {
		if b != "" {
			s.bearer = append(s.bearer, sha256.Sum256([]byte(b)))
		}
	}
	return s
}

// Enabled reports whether any secret is configured. A connector route with
// no secret is never served: an unauthenticated connector would mint tokens
// for anyone.
func (s Secrets) Enabled() bool { return len(s.hmac) > 0 || len(s.bearer) > 0 }

// Verify checks a call's credentials over its raw body. The error is an
// unauthorized *bridge.Error whose detail (for the log) says which check
// failed; the caller sees only "unauthorized".
func (s Secrets) Verify(h http.Header, body []byte) error {
	if !s.Enabled() {
		return bridge.Errorf(bridge.CodeUnauthorized, "no secret configured")
	}
	if len(s.hmac) > 0 {
		if err := s.verifySignature(h.Get(SignatureHeader), body); err != nil {
			return err
		}
	}
	if len(s.bearer) > 0 {
		if err := s.verifyBearer(h.Get("Authorization")); err != nil {
			return err
		}
	}
	return nil
}

func (s Secrets) verifySignature(header string, body []byte) error {
	header = strings.TrimSpace(header)
	if header == "" {
		return bridge.Errorf(bridge.CodeUnauthorized, "no %s signature", SignatureHeader)
	}
	got, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		if got, err = base64.RawStdEncoding.DecodeString(header); err != nil {
			return bridge.Errorf(bridge.CodeUnauthorized, "signature is not base64")
		}
	}
	if len(got) != sha256.Size {
		return bridge.Errorf(bridge.CodeUnauthorized, "signature is %d bytes, not an HMAC-SHA256", len(got))
	}
	ok := false
	for _, secret := range s.hmac {
		m := hmac.New(sha256.New, secret)
		m.Write(body)
		if hmac.Equal(m.Sum(nil), got) {
			ok = true
		}
	}
	if !ok {
		return bridge.Errorf(bridge.CodeUnauthorized, "signature matches no configured secret")
	}
	return nil
}

func (s Secrets) verifyBearer(header string) error {
	scheme, token, found := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return bridge.Errorf(bridge.CodeUnauthorized, "no bearer secret")
	}
	sum := sha256.Sum256([]byte(token))
	ok := false
	for _, want := range s.bearer {
		if subtle.ConstantTimeCompare(sum[:], want[:]) == 1 {
			ok = true
		}
	}
	if !ok {
		return bridge.Errorf(bridge.CodeUnauthorized, "bearer matches no configured secret")
	}
	return nil
}
