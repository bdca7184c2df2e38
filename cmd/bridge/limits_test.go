package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
)

// A header or body far over the limits is answered from its size alone: the
// header by the server before any handler runs, the body before it is read.
func TestOversizedRequestsAreAnsweredWithoutParsing(t *testing.T) {
	t.Parallel()
	s := hostileStack(t, nil)

	t.Run("a 1 MB bearer is refused with 431 before any handler runs", func(t *testing.T) {
		// The "ready" line is logged just after /readyz first answers 200;
		// wait for it, so that only a handler could add to the log below.
		require.Eventually(t, func() bool { return strings.Contains(s.logs.String(), `"message":"ready: `) },
			10*time.Second, 10*time.Millisecond)
		logged := len(s.logs.String())
		resp := s.do(t, http.MethodPost, "/exchange", map[string]string{"Authorization": "Bearer " + strings.Repeat("A", 1<<20)}, nil)
		assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.Status)
		assert.Equal(t, logged, len(s.logs.String()), "a handler ran and logged")
	})

	bodies := map[string]int64{
		"a 1 MB body with its length declared is refused with 413 before it is read": 1 << 20,
		"a 1 MB chunked body is refused with 413 once the cap is read":               -1,
	}
	for name, length := range bodies {
		t.Run(name, func(t *testing.T) {
			// The body stalls after 64 KB: an answer can only come from a
			// server that did not wait for the rest.
			pr, pw := io.Pipe()
			stall := make(chan struct{})
			t.Cleanup(func() { close(stall); _ = pw.Close() })
			go func() {
				_, _ = pw.Write([]byte(`{"sessionJwt":"` + strings.Repeat("x", 64<<10)))
				<-stall
			}()
			req, err := http.NewRequest(http.MethodPost, s.url+"/exchange", pr)
			require.NoError(t, err)
			req.ContentLength = length
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
			assert.Contains(t, string(body), `"code":"request_too_large"`)
		})
	}
}

func TestCORSAllowsExactlyTheListedOrigins(t *testing.T) {
	t.Parallel()
	const app = "https://app.example.com"
	s := hostileStack(t, map[string]string{"CORS_ALLOWED_ORIGINS": app + ", http://localhost:5173"})
	tok := s.session(t, descopestub.Session{UserID: "U2cors"})

	preflight := func(t *testing.T, origin, method, headers string) apiResponse {
		h := map[string]string{"Origin": origin, "Access-Control-Request-Method": method}
		if headers != "" {
			h["Access-Control-Request-Headers"] = headers
		}
		return s.do(t, http.MethodOptions, "/exchange", h, nil)
	}

	t.Run("a listed origin's preflight is allowed for POST with Authorization", func(t *testing.T) {
		resp := preflight(t, app, "POST", "authorization,content-type")
		assert.Equal(t, http.StatusNoContent, resp.Status)
		assert.Equal(t, app, resp.Header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "POST", resp.Header.Get("Access-Control-Allow-Methods"))
		assert.Equal(t, "authorization,content-type", resp.Header.Get("Access-Control-Allow-Headers"))
		assert.Equal(t, "600", resp.Header.Get("Access-Control-Max-Age"))
		assert.Empty(t, resp.Header.Get("Access-Control-Allow-Credentials"))
		assert.Contains(t, resp.Header.Values("Vary"), "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	})
	t.Run("a listed origin's exchange carries the allow header and exposes Retry-After", func(t *testing.T) {
		resp := s.do(t, http.MethodPost, "/exchange", map[string]string{"Origin": app, "Authorization": "Bearer " + tok}, nil)
		assert.Equal(t, 200, resp.Status, "body: %s", resp.Body)
		assert.Equal(t, app, resp.Header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "Retry-After", resp.Header.Get("Access-Control-Expose-Headers"))
		assert.Contains(t, resp.Header.Values("Vary"), "Origin")
	})
	t.Run("a listed origin can read a refusal's code", func(t *testing.T) {
		resp := s.do(t, http.MethodPost, "/exchange", map[string]string{"Origin": "http://localhost:5173"}, nil)
		assert.Equal(t, 401, resp.Status)
		assert.Equal(t, "http://localhost:5173", resp.Header.Get("Access-Control-Allow-Origin"))
	})

	refused := map[string]string{
		"an unlisted origin":                 "https://evil.example",
		"the null origin":                    "null",
		"a look-alike with a suffix":         "https://app.example.com.evil.example",
		"a look-alike with a prefix":         "https://evilapp.example.com",
		"a look-alike with a hyphen":         "https://app-example.com",
		"a sibling subdomain":                "https://admin.example.com",
		"the listed host over http":          "http://app.example.com",
		"the listed host on another port":    "https://app.example.com:8443",
		"the listed host with a path":        "https://app.example.com/",
		"the listed host in upper case":      "https://APP.EXAMPLE.COM",
		"the listed origin with a userinfo":  "https://user@app.example.com",
		"a listed origin with a second copy": app + ", " + app,
	}
	for name, origin := range refused {
		t.Run(name+" gets no allow header", func(t *testing.T) {
			resp := preflight(t, origin, "POST", "authorization")
			assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "preflight")
			assert.Empty(t, resp.Header.Get("Access-Control-Allow-Methods"), "preflight")
			resp = s.do(t, http.MethodPost, "/exchange", map[string]string{"Origin": origin, "Authorization": "Bearer " + tok}, nil)
			assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "request")
			assert.Contains(t, resp.Header.Values("Vary"), "Origin", "request")
		})
	}
	t.Run("a listed origin asking for another method gets no allow header", func(t *testing.T) {
		assert.Empty(t, preflight(t, app, "DELETE", "").Header.Get("Access-Control-Allow-Origin"))
	})
	t.Run("a listed origin asking for another header gets no allow header", func(t *testing.T) {
		assert.Empty(t, preflight(t, app, "POST", "authorization,x-forwarded-for").Header.Get("Access-Control-Allow-Origin"))
	})
}

// rs/cors reads an empty allow-list as "*"; the bridge must not.
func TestCORSWithNoListedOriginsAllowsNone(t *testing.T) {
	t.Parallel()
	s := hostileStack(t, nil)
	for _, origin := range []string{"https://app.example.com", "null", "http://localhost:5173"} {
		resp := s.do(t, http.MethodOptions, "/exchange", map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST"}, nil)
		assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), origin)
		resp = s.do(t, http.MethodPost, "/exchange", map[string]string{"Origin": origin}, nil)
		assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), origin)
	}
}

// retryAfter reads Retry-After as whole seconds.
func retryAfter(t *testing.T, resp apiResponse) int {
	t.Helper()
	n, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q", resp.Header.Get("Retry-After"))
	return n
}

// The per-address limit turns a client away before its token is read, and
// X-Forwarded-For only picks the address when the operator says a proxy
// wrote it.
func TestRateLimitPerClientAddress(t *testing.T) {
	t.Parallel()
	limited := map[string]string{"RATE_LIMIT_IP_PER_MINUTE": "1", "RATE_LIMIT_IP_BURST": "3"}

	t.Run("the fourth request in a burst of three is refused before its token is read", func(t *testing.T) {
		s := hostileStack(t, limited)
		for i := range 3 {
			assert.Equal(t, 401, s.exchangeBearer(t, "not-a-jwt").Status, "request %d", i+1)
		}
		// An unknown kid would make the bridge fetch keys, had it read it.
		unknown, err := descopestub.SignWith(s.stub.SigningKey().Private, "Kneverfetched", nil, s.stub.Claims(descopestub.Session{UserID: "U2limited"}, "DS"))
		require.NoError(t, err)
		resp := s.exchangeBearer(t, unknown)
		assert.Equal(t, http.StatusTooManyRequests, resp.Status)
		assert.Equal(t, "rate_limited", resp.errorCode(t))
		wait := retryAfter(t, resp)
		assert.True(t, wait >= 1 && wait <= 60, "Retry-After %d is not within the minute one token takes", wait)
		assert.Equal(t, int64(1), s.stub.KeyRequests(), "the limited request's token was read")
		assert.Equal(t, 1.0, counterValue(t, s.svc.metrics.Exchanges.WithLabelValues("rate_limited")), "the refusal is counted")
		assert.Equal(t, 200, s.do(t, http.MethodGet, "/healthz", nil, nil).Status, "health checks are never limited")
	})

	t.Run("X-Forwarded-For is ignored unless a trusted proxy is configured", func(t *testing.T) {
		s := hostileStack(t, limited)
		for i := range 4 {
			resp := s.do(t, http.MethodPost, "/exchange", map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i)}, nil)
			if i < 3 {
				assert.Equal(t, 401, resp.Status)
			} else {
				assert.Equal(t, http.StatusTooManyRequests, resp.Status, "a forged header bought a fresh bucket")
			}
		}
	})

	t.Run("behind one trusted proxy the right-most X-Forwarded-For entry is the client", func(t *testing.T) {
		s := hostileStack(t, map[string]string{"RATE_LIMIT_IP_PER_MINUTE": "1", "RATE_LIMIT_IP_BURST": "3", "TRUSTED_PROXY_HOPS": "1"})
		xff := func(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }
		for i := range 3 {
			// The client forges the left part; the proxy appends the right.
			resp := s.do(t, http.MethodPost, "/exchange", xff("198.51.100."+strconv.Itoa(i)+", 203.0.113.7"), nil)
			assert.Equal(t, 401, resp.Status)
		}
		resp := s.do(t, http.MethodPost, "/exchange", xff("198.51.100.99, 203.0.113.7"), nil)
		assert.Equal(t, http.StatusTooManyRequests, resp.Status, "forging the left part bought a fresh bucket")
		resp = s.do(t, http.MethodPost, "/exchange", xff("203.0.113.7, 203.0.113.8"), nil)
		assert.Equal(t, 401, resp.Status, "another client behind the proxy has its own bucket")
	})
}

// The per-user limit counts only sessions Descope vouched for, so one user's
// looping client cannot mint without bound, and other users are unaffected.
func TestRateLimitPerUser(t *testing.T) {
	t.Parallel()
	s := hostileStack(t, map[string]string{"RATE_LIMIT_USER_PER_MINUTE": "1", "RATE_LIMIT_USER_BURST": "2"})
	// Three distinct sessions (minted in one second they would be the same
	// token, whose repeats the exchange cache answers without a signature).
	for i := range 2 {
		resp := s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: "U2busy", TTL: time.Duration(10+i) * time.Minute}))
		assert.Equal(t, 200, resp.Status, "exchange %d: %s", i+1, resp.Body)
	}
	resp := s.exchangeBody(t, s.session(t, descopestub.Session{UserID: "U2busy", TTL: 12 * time.Minute}))
	assert.Equal(t, http.StatusTooManyRequests, resp.Status)
	assert.Equal(t, "rate_limited", resp.errorCode(t))
	wait := retryAfter(t, resp)
	assert.True(t, wait >= 1 && wait <= 60, "Retry-After %d is not within the minute one token takes", wait)

	assert.Equal(t, 200, s.exchangeBearer(t, s.session(t, descopestub.Session{UserID: "U2calm"})).Status, "another user is unaffected")
	assert.Equal(t, 401, s.exchangeBearer(t, "not-a-jwt").Status, "refused tokens are refused, not limited")
}

// A rate-limited answer, Retry-After included, has the shape api/openapi.yaml
// gives it.
func TestRateLimitedResponseMatchesTheOpenAPISpec(t *testing.T) {
	t.Parallel()
	s := hostileStack(t, map[string]string{"RATE_LIMIT_IP_PER_MINUTE": "1", "RATE_LIMIT_IP_BURST": "1"})
	sc := newSpecChecker(t, s.url)
	bearer := map[string]string{"Authorization": "Bearer not.a.jwt"}
	sc.check(t, s, specCase{name: "the first is refused on its merits", method: "POST", path: "/exchange", header: bearer, status: 401, validRequest: true})
	resp := sc.check(t, s, specCase{name: "the second is rate limited", method: "POST", path: "/exchange", header: bearer, status: 429, validRequest: true})
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
}

// A refused preflight leaves a trace: a debug line with its origin, and a
// count. An allowed one leaves neither.
func TestRefusedPreflightIsLoggedAndCounted(t *testing.T) {
	t.Parallel()
	s := hostileStack(t, map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com"})
	pre := func(origin string) {
		s.do(t, http.MethodOptions, "/exchange", map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST"}, nil)
	}
	pre("https://app.example.com")
	assert.Zero(t, counterValue(t, s.svc.metrics.CORSRefused))
	pre("https://evil.example")
	pre("https://evil.example")
	assert.Equal(t, 2.0, counterValue(t, s.svc.metrics.CORSRefused))
	assert.Contains(t, s.logs.String(), `"message":"cors preflight refused: origin not in CORS_ALLOWED_ORIGINS","origin":"https://evil.example"`)
	assert.NotContains(t, s.logs.String(), `refused: origin not in CORS_ALLOWED_ORIGINS","origin":"https://app.example.com"`)
}
