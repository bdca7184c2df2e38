package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/dfbridge/dfbridge/bridge"
)

// Recover turns a panic in a handler into a logged 500 with the API's error
// shape, so no input can take the process down or leak a stack trace.
func Recover(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error("handler panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
					WriteError(w, r, log, bridge.Errorf(bridge.CodeInternal, "panic"))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// NotFound and MethodNotAllowed answer in the API's error shape.
func NotFound(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, log, bridge.Errorf(bridge.CodeNotFound, "no route"))
	})
}

// MethodNotAllowed answers 405 in the API's error shape.
func MethodNotAllowed(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, log, bridge.Errorf(bridge.CodeMethodNotAllowed, "method %s", r.Method))
	})
}

// traceKey is Cloud Logging's field for linking a log line to a trace.
const traceKey = "logging.googleapis.com/trace"

// Trace adds Cloud Logging's trace field to every log line of a request, from
// X-Cloud-Trace-Context or W3C traceparent. projectID names the trace's
// project; without it the field is not added.
func Trace(projectID string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if projectID == "" {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id := traceID(r); id != "" {
				r = r.WithContext(WithLogAttrs(r.Context(),
					slog.String(traceKey, "projects/"+projectID+"/traces/"+id)))
			}
			next.ServeHTTP(w, r)
		})
	}
}

func traceID(r *http.Request) string {
	if v := r.Header.Get("X-Cloud-Trace-Context"); v != "" {
		id, _, _ := strings.Cut(v, "/")
		if isHex(id, 32) {
			return id
		}
	}
	if v := r.Header.Get("traceparent"); v != "" {
		parts := strings.Split(v, "-")
		if len(parts) == 4 && isHex(parts[1], 32) {
			return parts[1]
		}
	}
	return ""
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
