package httpapi

import (
	"context"
	"net/http"
)

// ReadinessCheck reports whether one dependency can serve.
type ReadinessCheck struct {
	Name  string
	Check func(ctx context.Context) error
	// Degraded marks a dependency the service works without (Redis: shared
	// limits and queue): its failure is named under "degraded" and the
	// answer stays 200.
	Degraded bool
}

// HandleHealthz answers while the process is up.
func HandleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// HandleReadyz answers 200 when every check passes, else 503 naming each
// failing dependency (names only: causes go to the log).
func HandleReadyz(checks ...ReadinessCheck) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		missing, degraded := []string{}, []string{}
		for _, c := range checks {
			if err := c.Check(r.Context()); err != nil {
				if c.Degraded {
					degraded = append(degraded, c.Name)
				} else {
					missing = append(missing, c.Name)
				}
			}
		}
		if len(missing) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not_ready", "missing": missing})
			return
		}
		if len(degraded) > 0 {
			writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "degraded": degraded})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}
