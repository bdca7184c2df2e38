package descope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dfbridge/dfbridge/bridge"
)

// MaxTokenBytes bounds a session JWT. Descope's are a few KB even with large
// JWT templates; anything bigger is refused before any decoding.
const MaxTokenBytes = 16 << 10

// rawToken is a JWT split and decoded but not yet trusted.
type rawToken struct {
	kid    string
	claims map[string]any
	// signed is the signing input (header.payload) and sig the decoded
	// signature, for the RS256 check.
	signed string
	sig    []byte
	// text reports whether the payload's strings are valid Unicode: valid
	// UTF-8 and no lone surrogate escape. JSON decoding would replace
	// either with U+FFFD, so two different payloads could map to one UID.
	text bool
}

// b64url decodes JWT segments. Strict refuses non-zero padding bits and
// jwtChars refuses the line breaks the decoder would skip, so one token has
// exactly one spelling: no altered copy of a valid token is also valid.
var b64url = base64.RawURLEncoding.Strict()

// jwtChars reports whether s holds only base64url characters and dots.
func jwtChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if !base64URLByte(s[i]) && s[i] != '.' {
			return false
		}
	}
	return true
}

// base64URLByte reports whether c is in the base64url alphabet.
func base64URLByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// refusedHeaders are header parameters Descope never sends and this service
// never honours: crit (extensions we do not implement), the key-carrying
// jku, x5u, jwk and x5c (a token must never tell us where to find the key
// that verifies it), and b64 (RFC 7797: the SDK's JWS library would then read
// the payload differently from this package, and honours it even without
// crit).
var refusedHeaders = []string{"crit", "jku", "x5u", "jwk", "x5c", "b64"}

// parseToken checks the JWT's shape and header and decodes its payload. It
// refuses any alg but RS256 and every header in refusedHeaders.
func parseToken(token string) (*rawToken, error) {
	if token == "" {
		return nil, bridge.Errorf(bridge.CodeMissingToken, "empty token")
	}
	if len(token) > MaxTokenBytes {
		return nil, bridge.Errorf(bridge.CodeTokenTooLarge, "token is %d bytes", len(token))
	}
	if !jwtChars(token) {
		return nil, bridge.Errorf(bridge.CodeMalformedToken, "characters outside base64url")
	}
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, bridge.Errorf(bridge.CodeMalformedToken, "not three dot-separated parts")
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return nil, bridge.Errorf(bridge.CodeMalformedToken, "not three dot-separated parts")
	}
	if h == "" || p == "" {
		return nil, bridge.Errorf(bridge.CodeMalformedToken, "empty header or payload")
	}

	hb, err := b64url.DecodeString(h)
	if err != nil {
		return nil, bridge.Errorf(bridge.CodeMalformedToken, "header is not base64url")
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr == nil {
		return nil, bridge.Errorf(bridge.CodeMalformedToken, "header is not a JSON object")
	}
	var alg string
	if err := json.Unmarshal(hdr["alg"], &alg); err != nil {
		return nil, bridge.Errorf(bridge.CodeMalformedToken, "header alg is not a string")
	}
	if alg != "RS256" {
		return nil, bridge.Errorf(bridge.CodeUnsupportedAlgorithm, "header alg %q", bridge.Truncate(alg, 16))
	}
	for _, name := range refusedHeaders {
		if _, present := hdr[name]; present {
			return nil, bridge.Errorf(bridge.CodeUnsupportedHeader, "header %q is not accepted", name)
		}
	}
	var kid string
	if raw, present := hdr["kid"]; present {
		if err := json.Unmarshal(raw, &kid); err != nil {
			return nil, bridge.Errorf(bridge.CodeMalformedToken, "header kid is not a string")
		}
	}
	if !validKID(kid) {
		return nil, bridge.Errorf(bridge.CodeUnknownKey, "kid missing or malformed")
	}
	if sig == "" {
		return nil, bridge.Errorf(bridge.CodeInvalidSignature, "signature is empty")
	}
	sigBytes, err := b64url.DecodeString(sig)
	if err != nil {
		return nil, bridge.Errorf(bridge.CodeMalformedToken, "signature is not base64url")
	}

	pb, err := b64url.DecodeString(p)
	if err != nil {
		return nil, bridge.Errorf(bridge.CodeMalformedToken, "payload is not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(pb))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, bridge.Errorf(bridge.CodeMalformedToken, "payload is not a JSON object")
	}
	if dec.More() {
		return nil, bridge.Errorf(bridge.CodeMalformedToken, "payload has trailing data")
	}
	return &rawToken{kid: kid, claims: claims, signed: token[:len(h)+1+len(p)], sig: sigBytes, text: validText(pb)}, nil
}

// validText reports whether JSON text b is valid UTF-8 whose \u escapes
// pair every surrogate. Every backslash in valid JSON starts an escape
// inside a string, so the escapes can be read without tracking strings.
func validText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 < len(b) && b[i+1] != 'u' {
			i++ // a two-character escape such as \\ or \"
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			return false
		}
		i += 5
		switch {
		case utf16.IsSurrogate(r) && r < 0xDC00: // high: a low must follow
			lo, ok := hex4(b, i+3)
			if i+2 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' || !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		case utf16.IsSurrogate(r): // a low with no high before it
			return false
		}
	}
	return true
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// timeClaims are the token's exp, nbf and iat; exp is required.
type timeClaims struct {
	exp, nbf, iat time.Time
	hasNBF        bool
	hasIAT        bool
}

// readTimes checks the time claims' types: integers of seconds, exp present.
func readTimes(claims map[string]any) (timeClaims, error) {
	var tc timeClaims
	exp, present, ok := numericDate(claims, "exp")
	if !present {
		return tc, bridge.Errorf(bridge.CodeMissingExpiry, "token has no exp")
	}
	if !ok {
		return tc, bridge.Errorf(bridge.CodeInvalidClaims, "exp is not an integer NumericDate")
	}
	tc.exp = exp
	if tc.nbf, tc.hasNBF, ok = numericDate(claims, "nbf"); tc.hasNBF && !ok {
		return tc, bridge.Errorf(bridge.CodeInvalidClaims, "nbf is not an integer NumericDate")
	}
	if tc.iat, tc.hasIAT, ok = numericDate(claims, "iat"); tc.hasIAT && !ok {
		return tc, bridge.Errorf(bridge.CodeInvalidClaims, "iat is not an integer NumericDate")
	}
	return tc, nil
}

// check refuses a token outside its validity window, allowing leeway for
// clock skew in each direction.
func (tc timeClaims) check(now time.Time, leeway time.Duration) error {
	if !now.Before(tc.exp.Add(leeway)) {
		return bridge.Errorf(bridge.CodeTokenExpired, "expired %s ago", now.Sub(tc.exp).Round(time.Second))
	}
	if tc.hasNBF && tc.nbf.After(now.Add(leeway)) {
		return bridge.Errorf(bridge.CodeTokenNotYetValid, "nbf is %s ahead", tc.nbf.Sub(now).Round(time.Second))
	}
	if tc.hasIAT && tc.iat.After(now.Add(leeway)) {
		return bridge.Errorf(bridge.CodeTokenNotYetValid, "iat is %s ahead", tc.iat.Sub(now).Round(time.Second))
	}
	return nil
}

// numericDate reads an integer NumericDate. present is false when the claim
// is absent; ok is false when it is present but not a sane integer.
func numericDate(claims map[string]any, name string) (t time.Time, present, ok bool) {
	v, present := claims[name]
	if !present {
		return time.Time{}, false, false
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return time.Time{}, true, false
	}
	i, err := n.Int64()
	if err != nil || i < 0 || i > 1<<40 {
		return time.Time{}, true, false
	}
	return time.Unix(i, 0), true, true
}

// issuerMatches accepts the bare project ID or a URL whose last path segment
// is the project ID (Descope's custom-domain form).
func issuerMatches(iss, projectID string) bool {
	if iss == projectID {
		return true
	}
	u, err := url.Parse(iss)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return false
	}
	return path.Base(u.Path) == projectID && strings.HasSuffix(u.Path, "/"+projectID)
}
