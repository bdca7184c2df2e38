package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"net/http"
	"strings"

	"github.com/dfbridge/dfbridge/bridge"
)

// SignatureHeader carries Descope's connector signature: base64 of
// HMAC-SHA256 over the raw body bytes, keyed with the connector's HMAC
// secret.
const SignatureHeader = "X-Descope-Webhook-S256"

// DefaultAPIKeyHeader is the header Descope's connectors send an API key in
// unless configured otherwise.
const DefaultAPIKeyHeader = "X-API-Key" //nolint:gosec // G101: a header name, not a credential

// Secrets authenticate one Descope connector, by the authentication types
// Descope's connectors offer: Bearer token, API key (a named header), Basic
// (user:password), or none, each optionally with an HMAC secret signing the
// body. Every type configured must pass: with HMAC secrets, a call must
// carry a signature made with one of them; with bearer secrets, an
// Authorization bearer equal to one of them; with API keys, the API-key
// header equal to one of them; with Basic entries, Authorization Basic
// credentials equal to one of them. Several of each are accepted at once,
// so a secret can be rotated with no window where Descope's calls fail: add
// the new one, switch the connector, remove the old one.
type Secrets struct {
	hmac [][]byte
	// bearer, apiKeys and basic hold SHA-256 digests, so every comparison
	// is over 32 bytes and takes the same time whatever the lengths.
	bearer       [][sha256.Size]byte
	apiKeyHeader string
	apiKeys      [][sha256.Size]byte
	basic        [][sha256.Size]byte
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

// WithAPIKeys returns s that also requires header (DefaultAPIKeyHeader when
// empty) to hold one of keys.
func (s Secrets) WithAPIKeys(header string, keys []string) Secrets {
	if header == "" {
		header = DefaultAPIKeyHeader
	}
	s.apiKeyHeader = http.CanonicalHeaderKey(header)
	s.apiKeys = digests(keys)
	return s
}

// WithBasic returns s that also requires Basic credentials equal to one of
// entries, each "user:password".
func (s Secrets) WithBasic(entries []string) Secrets {
	s.basic = digests(entries)
	return s
}

func digests(values []string) [][sha256.Size]byte {
	var out [][sha256.Size]byte
	for _, v := range values {
		if v != "" {
			out = append(out, sha256.Sum256([]byte(v)))
		}
	}
	return out
}

// Enabled reports whether any secret is configured. A connector route with
// no secret is never served: an unauthenticated connector would mint tokens
// for anyone.
func (s Secrets) Enabled() bool {
	return len(s.hmac) > 0 || len(s.bearer) > 0 || len(s.apiKeys) > 0 || len(s.basic) > 0
}

// Types names the authentication types configured, for the start-up log.
func (s Secrets) Types() []string {
	var t []string
	if len(s.hmac) > 0 {
		t = append(t, "hmac")
	}
	if len(s.bearer) > 0 {
		t = append(t, "bearer")
	}
	if len(s.apiKeys) > 0 {
		t = append(t, "api_key:"+s.apiKeyHeader)
	}
	if len(s.basic) > 0 {
		t = append(t, "basic")
	}
	return t
}

// Verify checks a call's credentials over its raw body. The error is an
// unauthorized *bridge.Error whose detail (for the log) says which check
// failed; the caller sees only "unauthorized".
func (s Secrets) Verify(h http.Header, body []byte) error {
	sig, err := s.VerifyHeaders(h)
	if err != nil {
		return err
	}
	b := sig.Body()
	_, _ = b.Write(body)
	return b.Verify()
}

// Signature is a call's HMAC signature, read from its headers before its
// body: Body hashes the body as it streams in.
type Signature struct {
	secrets [][]byte
	got     []byte
}

// Body returns a writer that hashes what is written to it with every
// configured HMAC secret; its Verify checks the signature once the body has
// all been written.
func (sig Signature) Body() *SignedBody {
	b := &SignedBody{got: sig.got}
	for _, secret := range sig.secrets {
		b.macs = append(b.macs, hmac.New(sha256.New, secret))
	}
	return b
}

// SignedBody is a body being hashed as it streams.
type SignedBody struct {
	macs []hash.Hash
	got  []byte
}

// Write implements io.Writer.
func (b *SignedBody) Write(p []byte) (int, error) {
	for _, m := range b.macs {
		m.Write(p)
	}
	return len(p), nil
}

// Verify reports whether the body written matches the signature (always,
// when no HMAC secret is configured).
func (b *SignedBody) Verify() error {
	if len(b.macs) == 0 {
		return nil
	}
	ok := false
	for _, m := range b.macs {
		if hmac.Equal(m.Sum(nil), b.got) {
			ok = true
		}
	}
	if !ok {
		return bridge.Errorf(bridge.CodeUnauthorized, "signature matches no configured secret")
	}
	return nil
}

// VerifyHeaders checks everything a call's headers carry before its body
// is read: bearer, API key and Basic credentials fully, and that an HMAC
// signature is present and well formed. A call with no credential of a
// configured type is refused here, without reading a byte of its body.
func (s Secrets) VerifyHeaders(h http.Header) (Signature, error) {
	if !s.Enabled() {
		return Signature{}, bridge.Errorf(bridge.CodeUnauthorized, "no secret configured")
	}
	var sig Signature
	if len(s.hmac) > 0 {
		got, err := signatureOf(h.Get(SignatureHeader))
		if err != nil {
			return Signature{}, err
		}
		sig = Signature{secrets: s.hmac, got: got}
	}
	if err := s.verifyHeaderSecrets(h); err != nil {
		return Signature{}, err
	}
	return sig, nil
}

func (s Secrets) verifyHeaderSecrets(h http.Header) error {
	if len(s.bearer) > 0 {
		if err := s.verifyBearer(h.Get("Authorization")); err != nil {
			return err
		}
	}
	if len(s.apiKeys) > 0 {
		if err := matchDigest(strings.TrimSpace(h.Get(s.apiKeyHeader)), s.apiKeys); err != nil {
			return bridge.Errorf(bridge.CodeUnauthorized, "api key in %s: %s", s.apiKeyHeader, err.Detail)
		}
	}
	if len(s.basic) > 0 {
		if err := s.verifyBasic(h.Get("Authorization")); err != nil {
			return err
		}
	}
	return nil
}

// matchDigest compares v against every digest in constant time, so how
// long it takes says nothing of which (if any) matched.
func matchDigest(v string, want [][sha256.Size]byte) *bridge.Error {
	if v == "" {
		return bridge.Errorf(bridge.CodeUnauthorized, "missing")
	}
	sum := sha256.Sum256([]byte(v))
	ok := 0
	for _, w := range want {
		ok |= subtle.ConstantTimeCompare(sum[:], w[:])
	}
	if ok != 1 {
		return bridge.Errorf(bridge.CodeUnauthorized, "matches no configured secret")
	}
	return nil
}

func (s Secrets) verifyBasic(header string) error {
	scheme, enc, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return bridge.Errorf(bridge.CodeUnauthorized, "no basic credentials")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return bridge.Errorf(bridge.CodeUnauthorized, "basic credentials are not base64")
	}
	if e := matchDigest(string(raw), s.basic); e != nil {
		return bridge.Errorf(bridge.CodeUnauthorized, "basic credentials: %s", e.Detail)
	}
	return nil
}

// signatureOf decodes a signature header: base64 (padded or not) of 32
// bytes.
func signatureOf(header string) ([]byte, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return nil, bridge.Errorf(bridge.CodeUnauthorized, "no %s signature", SignatureHeader)
	}
	if len(header) > 64 {
		return nil, bridge.Errorf(bridge.CodeUnauthorized, "signature is %d characters, not an HMAC-SHA256", len(header))
	}
	got, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		if got, err = base64.RawStdEncoding.DecodeString(header); err != nil {
			return nil, bridge.Errorf(bridge.CodeUnauthorized, "signature is not base64")
		}
	}
	if len(got) != sha256.Size {
		return nil, bridge.Errorf(bridge.CodeUnauthorized, "signature is %d bytes, not an HMAC-SHA256", len(got))
	}
	return got, nil
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

// headerCredentials reports whether a call that passed VerifyHeaders is
// proven by a credential in its headers (bearer, API key or Basic), before
// its body is read.
func (s Secrets) headerCredentials() bool {
	return len(s.bearer) > 0 || len(s.apiKeys) > 0 || len(s.basic) > 0
}
