package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/httpapi"
)

// hostileStack is a bridge that signs with a generated service-account key,
// so every refusal is tested with no emulator, and whose per-address limit
// is wide enough for a whole catalogue from one test client.
func hostileStack(t *testing.T, env map[string]string) *stack {
	t.Helper()
	all := map[string]string{"RATE_LIMIT_IP_BURST": "10000"}
	for k, v := range env {
		all[k] = v
	}
	return keyStack(t, all)
}

// rawJWT assembles a JWT from a header, claims and signature bytes, with no
// signing: for tokens no honest signer would produce.
func rawJWT(t *testing.T, header, claims any, sig []byte) string {
	t.Helper()
	return segment(t, header) + "." + segment(t, claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func segment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// countingServer counts every request that reaches it: the place a jku or
// x5u header points, which must never be called.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	t.Cleanup(ts.Close)
	return ts, &n
}

// publicJWK is key's public half as an embedded jwk header.
func publicJWK(key *rsa.PrivateKey, kid string) map[string]any {
	return map[string]any{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString([]byte{1, 0, 1}),
	}
}

// forms are the two ways a token reaches /exchange.
var forms = map[string]func(s *stack, t *testing.T, token string) apiResponse{
	"as a bearer header": (*stack).exchangeBearer,
	"in a JSON body":     (*stack).exchangeBody,
}

// The hostile-input catalogue: every token the bridge must refuse, each with
// its exact status and code, in both request forms, and the controls it must
// accept. No answer is a 5xx, none echoes the token, and no log line holds it.
func TestHostileTokenCatalogue(t *testing.T) {
	t.Parallel()
	s := hostileStack(t, nil)
	jku, jkuHits := countingServer(t)
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	kid := s.stub.SigningKey().ID
	now := time.Now().Unix()

	// session returns the claims of a fresh, valid session with extra
	// claims overriding (nil removes one).
	session := func(user string, extra map[string]any) map[string]any {
		return s.stub.Claims(descopestub.Session{UserID: user, Roles: []string{"viewer"}, Extra: extra}, "DS")
	}
	sign := func(header, claims map[string]any) string {
		tok, err := s.stub.Sign(header, claims)
		require.NoError(t, err)
		return tok
	}
	signForeign := func(kid string, header, claims map[string]any) string {
		tok, err := descopestub.SignWith(foreign, kid, header, claims)
		require.NoError(t, err)
		return tok
	}
	valid := sign(nil, session("U2catalogue", nil))
	validParts := strings.Split(valid, ".")
	hs256 := func() string {
		h := segment(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid})
		p := segment(t, session("U2hs256", nil))
		m := hmac.New(sha256.New, s.stub.JWKS()) // the classic confusion: the public key as an HMAC secret
		m.Write([]byte(h + "." + p))
		return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	respelt := func() string {
		// The signature's last character carries 4 unused bits; setting
		// one keeps the decoded bytes for a lenient decoder.
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		sig := validParts[2]
		i := strings.IndexByte(alphabet, sig[len(sig)-1])
		return validParts[0] + "." + validParts[1] + "." + sig[:len(sig)-1] + string(alphabet[i^1])
	}

	cases := []struct {
		name   string
		token  string
		status int
		code   string
		// noFetch: the key endpoint must not be asked for keys.
		noFetch bool
		// bodyOnly: the token cannot travel in a header (a raw newline).
		bodyOnly bool
	}{
		// Controls: what the bridge must accept.
		{name: "a valid session is exchanged", token: valid, status: 200, noFetch: true},
		{name: "nbf 2s ahead, within the leeway, is exchanged", token: sign(nil, session("U2nbfok", map[string]any{"nbf": now + 2})), status: 200, noFetch: true},
		{name: "an issuer URL ending in the project ID is exchanged", token: sign(nil, session("U2issurl", map[string]any{"iss": "https://api.descope.com/" + testProject})), status: 200, noFetch: true},
		{name: "dsub is the user when a JWT template moved it", token: sign(nil, session("U2sub", map[string]any{"dsub": "U2dsub"})), status: 200, noFetch: true},
		{name: "a user ID of exactly 128 bytes is exchanged", token: sign(nil, session(strings.Repeat("u", 128), nil)), status: 200, noFetch: true},

		// The core list.
		{name: "a refresh token is refused", token: sign(nil, s.stub.Claims(descopestub.Session{UserID: "U2refresh"}, "DSR")), status: 401, code: "not_session_token", noFetch: true},
		{name: "a token with no drn is refused", token: sign(nil, session("U2nodrn", map[string]any{"drn": nil})), status: 401, code: "not_session_token", noFetch: true},
		{name: "an expired session is refused", token: sign(nil, session("U2expired", map[string]any{"iat": now - 4000, "exp": now - 3400})), status: 401, code: "token_expired", noFetch: true},
		{name: "a session with no exp is refused", token: sign(nil, session("U2noexp", map[string]any{"exp": nil})), status: 401, code: "missing_expiry", noFetch: true},
		{name: "alg none is refused", token: rawJWT(t, map[string]any{"alg": "none", "typ": "JWT", "kid": kid}, session("U2none", nil), nil), status: 401, code: "unsupported_algorithm", noFetch: true},
		{name: "alg None in another case is refused", token: rawJWT(t, map[string]any{"alg": "nOnE", "kid": kid}, session("U2none", nil), nil), status: 401, code: "unsupported_algorithm", noFetch: true},
		{name: "HS256 keyed with the public key set is refused", token: hs256(), status: 401, code: "unsupported_algorithm", noFetch: true},
		{name: "a session of another project is refused", token: sign(nil, session("U2other", map[string]any{"iss": "Pother"})), status: 401, code: "wrong_project", noFetch: true},
		{name: "an issuer URL of another project is refused", token: sign(nil, session("U2other", map[string]any{"iss": "https://api.descope.com/Pother"})), status: 401, code: "wrong_project", noFetch: true},
		{name: "an unknown kid is refused", token: signForeign("Kunknown0001", nil, session("U2unknown", nil)), status: 401, code: "unknown_key"},
		{name: "a tampered payload is refused", token: validParts[0] + "." + segment(t, session("U2catalogue", map[string]any{"roles": []string{"admin"}})) + "." + validParts[2], status: 401, code: "invalid_signature", noFetch: true},
		{name: "another token's signature is refused", token: validParts[0] + "." + validParts[1] + "." + strings.Split(sign(nil, session("U2other", nil)), ".")[2], status: 401, code: "invalid_signature", noFetch: true},
		{name: "a foreign key's signature under the project's kid is refused", token: signForeign(kid, nil, session("U2forged", nil)), status: 401, code: "invalid_signature", noFetch: true},
		{name: "a stripped signature is refused", token: validParts[0] + "." + validParts[1] + ".", status: 401, code: "invalid_signature", noFetch: true},
		{name: "two parts are refused as malformed", token: validParts[0] + "." + validParts[1], status: 401, code: "malformed_token", noFetch: true},
		{name: "four parts are refused as malformed", token: valid + ".AAAA", status: 401, code: "malformed_token", noFetch: true},
		{name: "one opaque string is refused as malformed", token: "not-a-jwt-but-an-opaque-session-id", status: 401, code: "malformed_token", noFetch: true},
		{name: "characters outside base64url are refused as malformed", token: validParts[0] + "!." + validParts[1] + "." + validParts[2], status: 401, code: "malformed_token", noFetch: true},
		{name: "a header of impossible base64 length is refused as malformed", token: "A." + validParts[1] + "." + validParts[2], status: 401, code: "malformed_token", noFetch: true},
		{name: "a header that is not JSON is refused as malformed", token: b64("alg=RS256") + "." + validParts[1] + "." + validParts[2], status: 401, code: "malformed_token", noFetch: true},
		{name: "a header that is a JSON array is refused as malformed", token: b64(`["RS256"]`) + "." + validParts[1] + "." + validParts[2], status: 401, code: "malformed_token", noFetch: true},
		{name: "a payload that is not JSON is refused as malformed", token: validParts[0] + "." + b64("sub=U2x") + "." + validParts[2], status: 401, code: "malformed_token", noFetch: true},
		{name: "a payload with trailing data is refused as malformed", token: validParts[0] + "." + b64(`{"sub":"U2x"}{}`) + "." + validParts[2], status: 401, code: "malformed_token", noFetch: true},
		{name: "a header with no alg is refused as malformed", token: rawJWT(t, map[string]any{"kid": kid}, session("U2noalg", nil), []byte("sig")), status: 401, code: "malformed_token", noFetch: true},

		// Issue 3's catalogue.
		{name: "header alg RS512 over a valid RS256 signature is refused", token: sign(map[string]any{"alg": "RS512"}, session("U2rs512", nil)), status: 401, code: "unsupported_algorithm", noFetch: true},
		{name: "a crit header is refused", token: sign(map[string]any{"crit": []string{"exp"}}, session("U2crit", nil)), status: 401, code: "unsupported_header", noFetch: true},
		{name: "a b64 header is refused", token: sign(map[string]any{"b64": false}, session("U2b64", nil)), status: 401, code: "unsupported_header", noFetch: true},
		{name: "iat in the future is refused", token: sign(nil, session("U2iat", map[string]any{"iat": now + 120, "exp": now + 720})), status: 401, code: "token_not_yet_valid", noFetch: true},
		{name: "nbf beyond the leeway is refused", token: sign(nil, session("U2nbf", map[string]any{"nbf": now + 120})), status: 401, code: "token_not_yet_valid", noFetch: true},
		{name: "exp as a string is refused", token: sign(nil, session("U2expstr", map[string]any{"exp": "2000000000"})), status: 401, code: "invalid_claims", noFetch: true},
		{name: "exp as a fraction is refused", token: sign(nil, session("U2expfloat", map[string]any{"exp": 2000000000.5})), status: 401, code: "invalid_claims", noFetch: true},
		{name: "exp in exponent notation is refused", token: sign(nil, session("U2expexp", map[string]any{"exp": json.RawMessage(`2e9`)})), status: 401, code: "invalid_claims", noFetch: true},
		{name: "a negative exp is refused", token: sign(nil, session("U2expneg", map[string]any{"exp": -1})), status: 401, code: "invalid_claims", noFetch: true},
		{name: "roles that are not an array are refused", token: sign(nil, session("U2roles", map[string]any{"roles": "admin"})), status: 401, code: "invalid_claims", noFetch: true},
		{name: "a foreign key named by jku is refused and never fetched", token: signForeign("Kforeign0001", map[string]any{"jku": jku.URL + "/jwks"}, session("U2jku", nil)), status: 401, code: "unsupported_header", noFetch: true},
		{name: "a foreign key named by x5u is refused and never fetched", token: signForeign("Kforeign0002", map[string]any{"x5u": jku.URL + "/cert.pem"}, session("U2x5u", nil)), status: 401, code: "unsupported_header", noFetch: true},
		{name: "a foreign key embedded as jwk is refused", token: signForeign("Kforeign0003", map[string]any{"jwk": publicJWK(foreign, "Kforeign0003")}, session("U2jwk", nil)), status: 401, code: "unsupported_header", noFetch: true},
		{name: "a foreign key embedded as jwk under the project's kid is refused", token: signForeign(kid, map[string]any{"jwk": publicJWK(foreign, kid)}, session("U2jwkkid", nil)), status: 401, code: "unsupported_header", noFetch: true},
		{name: "a foreign certificate embedded as x5c is refused", token: signForeign("Kforeign0004", map[string]any{"x5c": []string{"MIIB"}}, session("U2x5c", nil)), status: 401, code: "unsupported_header", noFetch: true},
		{name: "a missing kid is refused without a fetch", token: sign(map[string]any{"kid": nil}, session("U2nokid", nil)), status: 401, code: "unknown_key", noFetch: true},
		{name: "a path-injected kid is refused without a fetch", token: sign(map[string]any{"kid": "../../x"}, session("U2kidpath", nil)), status: 401, code: "unknown_key", noFetch: true},
		{name: "a 10 KB kid is refused without a fetch", token: sign(map[string]any{"kid": strings.Repeat("K", 10<<10)}, session("U2kidlong", nil)), status: 401, code: "unknown_key", noFetch: true},
		{name: "a kid that is not a string is refused as malformed", token: sign(map[string]any{"kid": 7}, session("U2kidnum", nil)), status: 401, code: "malformed_token", noFetch: true},
		{name: "an empty user ID is refused", token: sign(nil, session("", nil)), status: 401, code: "missing_user_id", noFetch: true},
		{name: "a session with no sub is refused", token: sign(nil, session("U2nosub", map[string]any{"sub": nil})), status: 401, code: "missing_user_id", noFetch: true},
		{name: "a user ID longer than Firebase allows is refused with uid_too_long", token: sign(nil, session(strings.Repeat("u", 129), nil)), status: 400, code: "uid_too_long", noFetch: true},
		// In a header, a token this size is past the 16 KiB header block and
		// net/http answers 431 first (httpapi.TestHeaderLimitIsSixteenKiB).
		{name: "a 17 KB token is refused before parsing", token: sign(nil, session("U2huge", map[string]any{"pad": strings.Repeat("p", 17<<10)})), status: 413, code: "token_too_large", noFetch: true, bodyOnly: true},
		{name: "a valid token re-spelt with non-zero padding bits is refused", token: respelt(), status: 401, code: "malformed_token", noFetch: true},
		{name: "a line break inside a valid token is refused", token: valid[:len(valid)-10] + "\n" + valid[len(valid)-10:], status: 401, code: "malformed_token", noFetch: true, bodyOnly: true},
	}
	for _, c := range cases {
		for form, exchange := range forms {
			if c.bodyOnly && form != "in a JSON body" {
				continue
			}
			t.Run(c.name+" ("+form+")", func(t *testing.T) {
				before := s.stub.KeyRequests()
				resp := exchange(s, t, c.token)
				require.Equal(t, c.status, resp.Status, "body: %s", resp.Body)
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				assert.NotContains(t, string(resp.Body), c.token, "the response echoes the token")
				if c.status == 200 {
					assert.NotEmpty(t, resp.json(t)["externalToken"])
				} else {
					assert.Equal(t, c.code, resp.errorCode(t))
					assert.Equal(t, c.code, loggedCode(t, s.logs.String(), c.token), "one log line names the refusal by the token's hash")
				}
				if c.noFetch {
					assert.Equal(t, before, s.stub.KeyRequests(), "the key endpoint was asked for keys")
				}
			})
		}
	}

	logs := s.logs.String()
	for _, c := range cases {
		assert.NotContains(t, logs, c.token, "a log line holds the token of %q", c.name)
		parts := strings.Split(c.token, ".")
		if len(parts) == 3 && len(parts[2]) > 40 {
			assert.NotContains(t, logs, parts[2], "a log line holds the signature of %q", c.name)
		}
	}
	assert.Zero(t, jkuHits.Load(), "a jku or x5u URL was fetched")
}

// loggedCode finds the log line for an exchange of token, by its SHA-256
// prefix, and returns the code it logged.
func loggedCode(t *testing.T, logs, token string) string {
	t.Helper()
	fp := httpapi.TokenFingerprint(token)
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, fp) {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec["token_sha256"] == fp {
			code, _ := rec["code"].(string)
			return code
		}
	}
	return ""
}

// Requests whose shape is wrong are refused before any token is looked at,
// with the status that says what is wrong.
func TestHostileRequestCatalogue(t *testing.T) {
	t.Parallel()
	s := hostileStack(t, nil)
	tok := s.session(t, descopestub.Session{UserID: "U2shape"})
	body := func(v string) []byte { return []byte(v) }
	jsonCT := map[string]string{"Content-Type": "application/json"}

	cases := []struct {
		name   string
		method string
		path   string
		header map[string]string
		body   []byte
		status int
		code   string
	}{
		{"GET /exchange is not allowed", http.MethodGet, "/exchange", map[string]string{"Authorization": "Bearer " + tok}, nil, 405, "method_not_allowed"},
		{"PUT /exchange is not allowed", http.MethodPut, "/exchange", map[string]string{"Authorization": "Bearer " + tok}, nil, 405, "method_not_allowed"},
		{"OPTIONS without a CORS preflight is not allowed", http.MethodOptions, "/exchange", nil, nil, 405, "method_not_allowed"},
		{"an unknown route is not found", http.MethodPost, "/exchange/v2", map[string]string{"Authorization": "Bearer " + tok}, nil, 404, "not_found"},
		{"a request with no token is refused", http.MethodPost, "/exchange", nil, nil, 401, "missing_token"},
		{"an empty bearer is refused", http.MethodPost, "/exchange", map[string]string{"Authorization": "Bearer "}, nil, 401, "missing_token"},
		{"a Basic credential is refused", http.MethodPost, "/exchange", map[string]string{"Authorization": "Basic " + b64("user:"+tok)}, nil, 401, "missing_token"},
		{"a bearer with no scheme is refused", http.MethodPost, "/exchange", map[string]string{"Authorization": tok}, nil, 401, "missing_bearer_scheme"},
		{"an empty sessionJwt is refused", http.MethodPost, "/exchange", jsonCT, body(`{"sessionJwt":""}`), 401, "missing_token"},
		{"an empty JSON object is refused", http.MethodPost, "/exchange", jsonCT, body(`{}`), 401, "missing_token"},
		{"a text/plain body is refused", http.MethodPost, "/exchange", map[string]string{"Content-Type": "text/plain"}, body(`{"sessionJwt":"` + tok + `"}`), 415, "unsupported_media_type"},
		{"a form body is refused", http.MethodPost, "/exchange", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body("sessionJwt=" + tok), 415, "unsupported_media_type"},
		{"a body with no content type is refused", http.MethodPost, "/exchange", nil, body(`{"sessionJwt":"` + tok + `"}`), 415, "unsupported_media_type"},
		{"a content type that does not parse is refused", http.MethodPost, "/exchange", map[string]string{"Content-Type": "application/json; ;;"}, body(`{"sessionJwt":"` + tok + `"}`), 415, "unsupported_media_type"},
		{"an unknown JSON field is refused", http.MethodPost, "/exchange", jsonCT, body(`{"sessionJwt":"` + tok + `","refreshJwt":"x"}`), 400, "bad_request"},
		{"trailing data after the JSON is refused", http.MethodPost, "/exchange", jsonCT, body(`{"sessionJwt":"` + tok + `"} trailing`), 400, "bad_request"},
		{"a field name in another case is refused", http.MethodPost, "/exchange", jsonCT, body(`{"SESSIONJWT":"` + tok + `"}`), 400, "bad_request"},
		{"a repeated field is refused", http.MethodPost, "/exchange", jsonCT, body(`{"sessionJwt":"x","sessionJwt":"` + tok + `"}`), 400, "bad_request"},
		{"a second JSON object is refused", http.MethodPost, "/exchange", jsonCT, body(`{"sessionJwt":"` + tok + `"}{}`), 400, "bad_request"},
		{"a JSON array is refused", http.MethodPost, "/exchange", jsonCT, body(`["` + tok + `"]`), 400, "bad_request"},
		{"a sessionJwt that is not a string is refused", http.MethodPost, "/exchange", jsonCT, body(`{"sessionJwt":["` + tok + `"]}`), 400, "bad_request"},
		{"truncated JSON is refused", http.MethodPost, "/exchange", jsonCT, body(`{"sessionJwt":"` + tok), 400, "bad_request"},
		{"a token in both the header and the body is refused", http.MethodPost, "/exchange", map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, body(`{"sessionJwt":"` + tok + `"}`), 400, "ambiguous_token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := s.do(t, c.method, c.path, c.header, c.body)
			require.Equal(t, c.status, resp.Status, "body: %s", resp.Body)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.Equal(t, c.code, resp.errorCode(t))
			assert.NotContains(t, string(resp.Body), tok)
		})
	}
	assert.NotContains(t, s.logs.String(), tok)
}
