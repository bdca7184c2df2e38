package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/metrics"
)

// Recover turns a panic in a handler into a logged 500 with the API's error
// shape, so no input can take the process down or leak a stack trace.
func Recover(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
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

// Cloud Logging's fields for linking a log line to a trace and span.
const (
	traceKey   = "logging.googleapis.com/trace"
	spanKey    = "logging.googleapis.com/spanId"
	sampledKey = "logging.googleapis.com/trace_sampled"
)

// Trace adds Cloud Logging's trace fields to every log line of a request,
// from X-Cloud-Trace-Context or W3C traceparent, so Logs Explorer groups a
// request's lines under the request log Cloud Run writes. projectID names
// the trace's project; without it the fields are not added.
func Trace(projectID string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if projectID == "" {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc, ok := traceOf(r); ok {
				attrs := []slog.Attr{slog.String(traceKey, "projects/"+projectID+"/traces/"+tc.traceID)}
				if tc.spanID != "" {
					attrs = append(attrs, slog.String(spanKey, tc.spanID))
				}
				attrs = append(attrs, slog.Bool(sampledKey, tc.sampled))
				r = r.WithContext(WithLogAttrs(r.Context(), attrs...))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// traceContext is a request's trace as Cloud Logging wants it: 32 hex
// digits of trace ID and 16 of span ID.
type traceContext struct {
	traceID, spanID string
	sampled         bool
}

// traceOf reads X-Cloud-Trace-Context ("TRACE/SPAN;o=1", span in decimal)
// or else traceparent ("00-TRACE-SPAN-FLAGS", span in hex). Malformed
// values are ignored rather than logged, as they come from the client.
func traceOf(r *http.Request) (traceContext, bool) {
	if v := r.Header.Get("X-Cloud-Trace-Context"); v != "" {
		ids, opts, _ := strings.Cut(v, ";")
		id, span, _ := strings.Cut(ids, "/")
		if isHex(id, 32) && !allZero(id) {
			tc := traceContext{traceID: strings.ToLower(id), sampled: opts == "o=1"}
			if n, err := strconv.ParseUint(span, 10, 64); err == nil && n != 0 {
				tc.spanID = fmt.Sprintf("%016x", n)
			}
			return tc, true
		}
	}
	if v := r.Header.Get("traceparent"); v != "" {
		parts := strings.Split(v, "-")
		if len(parts) == 4 && isHex(parts[0], 2) && isHex(parts[1], 32) && !allZero(parts[1]) &&
			isHex(parts[2], 16) && isHex(parts[3], 2) {
			flags, _ := strconv.ParseUint(parts[3], 16, 8)
			tc := traceContext{traceID: strings.ToLower(parts[1]), sampled: flags&1 == 1}
			if !allZero(parts[2]) {
				tc.spanID = strings.ToLower(parts[2])
			}
			return tc, true
		}
	}
	return traceContext{}, false
}

func allZero(s string) bool { return strings.Trim(s, "0") == "" }

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

// UnmatchedRoute is the route label of requests no route matched.
const UnmatchedRoute = "unmatched"

// Measure records each request's latency by route, method and status. route
// names a request by its route's template ("/exchange"), never its raw path,
// so the label set stays bounded whatever paths and methods clients send.
func Measure(m *metrics.Metrics, route func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			m.Request(route(r), methodLabel(r.Method), sw.status, time.Since(start))
		})
	}
}

// methodLabel keeps the method label to the standard methods.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// CloseWhen adds Connection: close to every answer while flag is set, so
// kept-alive clients stop reusing their connections before the server
// closes them (net/http closes a connection after an answer that says so).
func CloseWhen(flag interface{ Load() bool }) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if flag == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if flag.Load() {
				w.Header().Set("Connection", "close")
			}
			next.ServeHTTP(w, r)
		})
	}
}
