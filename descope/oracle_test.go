package descope

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
)

// ownChecks are the refusals the bridge adds to the Descope SDK's, where
// the SDK accepts a token the bridge refuses on purpose (README, "strict").
var ownChecks = map[bridge.Code]bool{
	bridge.CodeWrongProject: true, bridge.CodeNotSessionToken: true, bridge.CodeMissingExpiry: true,
	bridge.CodeUnsupportedHeader: true, bridge.CodeInvalidClaims: true, bridge.CodeMissingUserID: true,
	bridge.CodeMalformedToken: true, bridge.CodeTokenNotYetValid: true, bridge.CodeTokenExpired: true,
	bridge.CodeUnknownKey: true, bridge.CodeTokenTooLarge: true, bridge.CodeWrongAudience: true,
}

// oracle judges token with the bridge's verifier and with the Descope
// SDK's own validation (the verifier's former signature check), and fails
// t if they disagree in a way the bridge's own checks do not explain: the
// bridge never accepts what the SDK refuses, and refuses what the SDK
// accepts only with one of its documented extra checks.
func oracle(t testing.TB, v *Verifier, token string) (bridgeOK bool, code bridge.Code) {
	t.Helper()
	ctx := context.Background()
	_, err := v.Verify(ctx, token)
	_, _, sdkErr := v.sdk.Auth.ValidateSessionWithToken(ctx, token)
	if err == nil && sdkErr != nil {
		t.Fatalf("the bridge accepted a token the SDK refuses (%v)", sdkErr)
	}
	if err != nil {
		code = bridge.CodeOf(err)
		if sdkErr == nil && !ownChecks[code] {
			t.Fatalf("the bridge refused a token the SDK accepts, with %s, which is not one of its own checks: %v", code, err)
		}
	}
	return err == nil, code
}

// oracleVerifier is a verifier over a fresh stand-in whose keys are loaded.
func oracleVerifier(t testing.TB, leeway time.Duration) (*Verifier, *descopestub.Stub) {
	t.Helper()
	stub, err := descopestub.New(descopestub.Options{ProjectID: testProject})
	require.NoError(t, err)
	ts := httptest.NewServer(stub.Handler())
	t.Cleanup(ts.Close)
	keys := NewKeySource(KeySourceConfig{BaseURL: ts.URL, ProjectID: testProject})
	require.NoError(t, keys.Refresh(context.Background()))
	v, err := NewVerifier(VerifierConfig{ProjectID: testProject, BaseURL: ts.URL, Keys: keys, Leeway: leeway})
	require.NoError(t, err)
	return v, stub
}

// The lean RS256 path and the Descope SDK agree on a catalogue of tokens,
// valid and forged.
func TestVerifierAgreesWithTheSDK(t *testing.T) {
	v, stub := oracleVerifier(t, 0)
	valid, err := stub.MintSession(descopestub.Session{UserID: "U2oracle", Roles: []string{"admin"}})
	require.NoError(t, err)
	refresh, err := stub.MintRefresh(descopestub.Session{UserID: "U2oracle"})
	require.NoError(t, err)
	parts := strings.Split(valid, ".")
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	kid := stub.SigningKey().ID
	header := map[string]any{"alg": "RS256", "kid": kid, "typ": "JWT"}
	sign := func(claims map[string]any) string {
		tok, err := stub.Sign(header, claims)
		require.NoError(t, err)
		return tok
	}
	base := func() map[string]any { return stub.Claims(descopestub.Session{UserID: "U2oracle"}, "DS") }
	with := func(k string, val any) map[string]any { c := base(); c[k] = val; return c }
	without := func(k string) map[string]any { c := base(); delete(c, k); return c }
	foreign, err := descopestub.SignWith(otherKey, kid, header, base())
	require.NoError(t, err)
	flip := func(s string) string {
		b := []byte(s)
		if b[len(b)/2] == 'A' {
			b[len(b)/2] = 'B'
		} else {
			b[len(b)/2] = 'A'
		}
		return string(b)
	}

	cases := []struct {
		name   string
		token  string
		accept bool
		code   bridge.Code
	}{
		{"a valid session is accepted by both", valid, true, ""},
		{"a signature by another key is refused", foreign, false, bridge.CodeInvalidSignature},
		{"a changed payload is refused", parts[0] + "." + flip(parts[1]) + "." + parts[2], false, ""},
		{"a changed signature is refused", parts[0] + "." + parts[1] + "." + flip(parts[2]), false, ""},
		{"a signature of another token is refused", parts[0] + "." + parts[1] + "." + strings.Split(refresh, ".")[2], false, bridge.CodeInvalidSignature},
		{"a truncated signature is refused", parts[0] + "." + parts[1] + "." + parts[2][:40], false, ""},
		{"an expired session is refused", sign(with("exp", time.Now().Add(-time.Hour).Unix())), false, bridge.CodeTokenExpired},
		{"a session not valid yet is refused", sign(with("nbf", time.Now().Add(time.Hour).Unix())), false, bridge.CodeTokenNotYetValid},
		{"a refresh token is refused (the bridge's own check)", refresh, false, bridge.CodeNotSessionToken},
		{"another project's issuer is refused (the bridge's own check)", sign(with("iss", "Pother")), false, bridge.CodeWrongProject},
		{"a session with no exp is refused (the bridge's own check)", sign(without("exp")), false, bridge.CodeMissingExpiry},
		{"alg none is refused", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + parts[1] + ".", false, bridge.CodeUnsupportedAlgorithm},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, code := oracle(t, v, tc.token)
			assert.Equal(t, tc.accept, ok)
			if tc.code != "" {
				assert.Equal(t, tc.code, code)
			}
		})
	}
}

// signRaw signs payload bytes exactly as given (json.Marshal would have
// replaced invalid UTF-8), with the stand-in's current key.
func signRaw(t *testing.T, stub *descopestub.Stub, payload []byte) string {
	t.Helper()
	k := stub.SigningKey()
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT","kid":"` + k.ID + `"}`))
	signing := h + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.Private, crypto.SHA256, sum[:])
	require.NoError(t, err)
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// A validly signed session whose JSON holds invalid UTF-8 or a lone
// surrogate is refused with invalid_claims, never accepted with U+FFFD in
// its place: two different subjects must never map to one UID.
func TestInvalidUnicodeInAValidlySignedSessionIsRefused(t *testing.T) {
	v, stub := oracleVerifier(t, 0)
	exp := time.Now().Add(5 * time.Minute).Unix()
	payload := func(sub string) []byte {
		return []byte(fmt.Sprintf(`{"iss":%q,"sub":"%s","drn":"DS","exp":%d,"iat":%d}`, testProject, sub, exp, time.Now().Unix()))
	}
	cases := []struct {
		name string
		sub  string
		ok   bool
	}{
		{"a sub with a byte that is not UTF-8 is refused", "U2\xff", false},
		{"a sub with a truncated UTF-8 sequence is refused", "U2\xe2\x82", false},
		{"a sub with a lone high surrogate escape is refused", `U2\ud800`, false},
		{"a sub with a lone low surrogate escape is refused", `U2\udc00x`, false},
		{"a high surrogate followed by a non-surrogate escape is refused", `U2\ud800\u0041`, false},
		{"a properly paired surrogate escape is accepted", `U2\ud83d\ude00`, true},
		{"an escaped backslash before a u is not an escape", `U2\\ud800`, true},
		{"plain multi-byte UTF-8 is accepted", "U2é", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := v.Verify(context.Background(), signRaw(t, stub, payload(tc.sub)))
			if tc.ok {
				require.NoError(t, err)
				assert.NotContains(t, s.UserID, "\ufffd")
				return
			}
			require.Error(t, err)
			assert.Equal(t, bridge.CodeInvalidClaims, bridge.CodeOf(err))
		})
	}
}

// A session from another Descope project is signed by a key this project
// does not have: the refusal is unknown_key, and its log detail names the
// token's project beside the configured one, so a wrong DESCOPE_PROJECT_ID
// is plain from the log.
func TestUnknownKeyNamesTheTokensProject(t *testing.T) {
	v, _ := oracleVerifier(t, 0)
	other, err := descopestub.New(descopestub.Options{ProjectID: "P2otherproject", KeyBits: 1024})
	require.NoError(t, err)
	for _, iss := range []string{"P2otherproject", "https://api.descope.com/P2otherproject"} {
		tok, err := other.Sign(nil, with(other.Claims(descopestub.Session{UserID: "U1"}, "DS"), "iss", iss))
		require.NoError(t, err)
		_, err = v.Verify(context.Background(), tok)
		require.Error(t, err)
		assert.Equal(t, bridge.CodeUnknownKey, bridge.CodeOf(err))
		assert.Contains(t, err.Error(), `"P2otherproject"`)
		assert.Contains(t, err.Error(), testProject)
	}
}

func with(c map[string]any, k string, v any) map[string]any { c[k] = v; return c }

// With DESCOPE_ALLOWED_AUDIENCES set, a token is accepted only when its aud
// (a string or a list, as Descope's OIDC access tokens carry it) names one
// of them; unset, aud is not read.
func TestAllowedAudiences(t *testing.T) {
	_, stub := oracleVerifier(t, 0)
	keys := NewKeySource(KeySourceConfig{BaseURL: stubURL(t, stub), ProjectID: testProject})
	require.NoError(t, keys.Refresh(context.Background()))
	restricted, err := NewVerifier(VerifierConfig{ProjectID: testProject, BaseURL: stubURL(t, stub), Keys: keys,
		AllowedAudiences: []string{"app-mobile", "app-web"}})
	require.NoError(t, err)
	open, err := NewVerifier(VerifierConfig{ProjectID: testProject, BaseURL: stubURL(t, stub), Keys: keys})
	require.NoError(t, err)
	token := func(aud any) string {
		c := stub.Claims(descopestub.Session{UserID: "U2aud"}, "DS")
		c["iss"] = "https://api.descope.com/" + testProject
		if aud != nil {
			c["aud"] = aud
		}
		tok, err := stub.Sign(nil, c)
		require.NoError(t, err)
		return tok
	}
	cases := []struct {
		name string
		aud  any
		code bridge.Code
	}{
		{"an audience that is allowed is accepted", "app-mobile", ""},
		{"a list naming an allowed audience is accepted", []string{"other", "app-web"}, ""},
		{"another application's audience is refused", "app-partner", bridge.CodeWrongAudience},
		{"a list naming none is refused", []string{"a", "b"}, bridge.CodeWrongAudience},
		{"no audience is refused", nil, bridge.CodeWrongAudience},
		{"an audience that is not a string is refused", 7, bridge.CodeInvalidClaims},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := restricted.Verify(context.Background(), token(tc.aud))
			if tc.code == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Equal(t, tc.code, bridge.CodeOf(err))
			}
			_, err = open.Verify(context.Background(), token(tc.aud))
			assert.NoError(t, err, "without the setting aud is not read")
		})
	}
}

func stubURL(t *testing.T, stub *descopestub.Stub) string {
	t.Helper()
	ts := httptest.NewServer(stub.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}
