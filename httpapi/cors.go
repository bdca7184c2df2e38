package httpapi

import (
	"log/slog"

	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/metrics"

	"github.com/rs/cors"
)

// CORS lets web apps served from the allowed origins call the API from the
// browser, and no other origin. Matching is exact (no wildcard, no "null",
// no case folding), answers always carry Vary: Origin so caches keep
// per-origin answers apart, and preflights are answered here. Credentials
// are not allowed: the session travels as a bearer token, never a cookie.
// With no allowed origins, no origin gets an allow header.
func CORS(allowed []string, log *slog.Logger, m *metrics.Metrics) func(http.Handler) http.Handler {
	set := make(map[string]bool, len(allowed))
	for _, o := range allowed {
		set[o] = true
	}
	c := cors.New(cors.Options{
		// A function, not AllowedOrigins: rs/cors reads an empty
		// AllowedOrigins as "*", matches case-insensitively and expands
		// wildcards; this is an exact set look-up.
		AllowOriginFunc: func(origin string) bool { return set[origin] },
		AllowedMethods:  []string{http.MethodPost},
		AllowedHeaders:  []string{"Authorization", "Content-Type"},
		ExposedHeaders:  []string{"Retry-After"},
		MaxAge:          600,
	})
	return func(next http.Handler) http.Handler {
		h := c.Handler(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// A refused preflight is otherwise silent: the browser only says
			// "CORS error", so the operator needs the origin it came from.
			if origin := r.Header.Get("Origin"); r.Method == http.MethodOptions && origin != "" &&
				r.Header.Get("Access-Control-Request-Method") != "" && !set[origin] {
				m.CORSPreflightRefused()
				log.LogAttrs(r.Context(), slog.LevelDebug, "cors preflight refused: origin not in CORS_ALLOWED_ORIGINS",
					slog.String("origin", bridge.Truncate(origin, 100)))
			}
			h.ServeHTTP(w, r)
		})
	}
}

// CheckOrigin returns an error saying why s cannot be an allow-list entry:
// it must be exactly what a browser sends in Origin, scheme://host[:port] in
// lower case, with no path, no trailing slash, no wildcard, and not "null"
// (the origin of sandboxed frames and file:// pages, which anyone can forge).
func CheckOrigin(s string) error {
	if s == "null" {
		return fmt.Errorf("%q is the opaque origin of sandboxed and file:// pages, which anyone can send; it cannot be allowed", s)
	}
	if strings.Contains(s, "*") {
		return fmt.Errorf("%q has a wildcard; list each origin exactly", s)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || s != u.Scheme+"://"+u.Host {
		return fmt.Errorf("%q is not an origin; write scheme://host[:port] with no path, e.g. https://app.example.com", s)
	}
	if s != strings.ToLower(s) {
		return fmt.Errorf("%q has upper case; browsers send origins in lower case", s)
	}
	return nil
}
