package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
)

// logLines parses every JSON line the logger wrote.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(buf)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "log line is not JSON: %s", sc.Text())
		out = append(out, m)
	}
	return out
}

// Log lines use Cloud Logging's field names, so Cloud Run's agent reads the
// severity and message instead of filing the whole line as text.
func TestLoggerWritesCloudLoggingFields(t *testing.T) {
	cases := []struct {
		name     string
		level    slog.Level
		severity string
	}{
		{"debug is DEBUG", slog.LevelDebug, "DEBUG"},
		{"info is INFO", slog.LevelInfo, "INFO"},
		{"warn is WARNING", slog.LevelWarn, "WARNING"},
		{"error is ERROR", slog.LevelError, "ERROR"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			NewLogger(&buf, slog.LevelDebug).Log(context.Background(), c.level, "hello", "k", "v")
			lines := logLines(t, &buf)
			require.Len(t, lines, 1)
			assert.Equal(t, c.severity, lines[0]["severity"])
			assert.Equal(t, "hello", lines[0]["message"])
			assert.Equal(t, "v", lines[0]["k"])
			assert.NotContains(t, lines[0], "level")
			assert.NotContains(t, lines[0], "msg")
		})
	}
}

// The trace fields come from the request's trace header with the project's
// path, and a malformed header adds nothing.
func TestTraceLinksLogLinesToTheRequestTrace(t *testing.T) {
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	cases := []struct {
		name    string
		header  map[string]string
		trace   string // "" means no trace field
		span    string
		sampled bool
	}{
		{"X-Cloud-Trace-Context gives trace, span and sampling",
			map[string]string{"X-Cloud-Trace-Context": trace + "/1234567890;o=1"},
			"projects/proj-1/traces/" + trace, "00000000499602d2", true},
		{"X-Cloud-Trace-Context without options is not sampled",
			map[string]string{"X-Cloud-Trace-Context": trace + "/1"},
			"projects/proj-1/traces/" + trace, "0000000000000001", false},
		{"X-Cloud-Trace-Context with only a trace ID still links",
			map[string]string{"X-Cloud-Trace-Context": trace},
			"projects/proj-1/traces/" + trace, "", false},
		{"traceparent gives trace, span and sampling",
			map[string]string{"traceparent": "00-" + trace + "-00f067aa0ba902b7-01"},
			"projects/proj-1/traces/" + trace, "00f067aa0ba902b7", true},
		{"traceparent's upper-case hex is normalised",
			map[string]string{"traceparent": "00-" + strings.ToUpper(trace) + "-00F067AA0BA902B7-00"},
			"projects/proj-1/traces/" + trace, "00f067aa0ba902b7", false},
		{"X-Cloud-Trace-Context wins over traceparent",
			map[string]string{"X-Cloud-Trace-Context": trace + "/1;o=1", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
			"projects/proj-1/traces/" + trace, "0000000000000001", true},
		{"a malformed X-Cloud-Trace-Context falls back to traceparent",
			map[string]string{"X-Cloud-Trace-Context": "xyz/1", "traceparent": "00-" + trace + "-00f067aa0ba902b7-01"},
			"projects/proj-1/traces/" + trace, "00f067aa0ba902b7", true},
		{"a short trace ID is ignored", map[string]string{"X-Cloud-Trace-Context": "abc/1;o=1"}, "", "", false},
		{"an all-zero trace ID is ignored", map[string]string{"traceparent": "00-" + strings.Repeat("0", 32) + "-00f067aa0ba902b7-01"}, "", "", false},
		{"a traceparent with a bad span is ignored", map[string]string{"traceparent": "00-" + trace + "-xyz-01"}, "", "", false},
		{"a log-injection attempt is ignored", map[string]string{"X-Cloud-Trace-Context": trace + "\"},\"severity\":\"ERROR/1"}, "", "", false},
		{"no header, no trace", nil, "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := NewLogger(&buf, slog.LevelInfo)
			h := Trace("proj-1")(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				log.InfoContext(r.Context(), "inside")
			}))
			req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			lines := logLines(t, &buf)
			require.Len(t, lines, 1)
			line := lines[0]
			assert.Equal(t, "INFO", line["severity"])
			if c.trace == "" {
				assert.NotContains(t, line, traceKey)
				assert.NotContains(t, line, spanKey)
				assert.NotContains(t, line, sampledKey)
				return
			}
			assert.Equal(t, c.trace, line[traceKey])
			assert.Equal(t, c.sampled, line[sampledKey])
			if c.span == "" {
				assert.NotContains(t, line, spanKey)
			} else {
				assert.Equal(t, c.span, line[spanKey])
			}
		})
	}
}

// Without a project to name the trace, no trace field is written.
func TestTraceNeedsAProject(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelInfo)
	h := Trace("")(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "inside")
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Cloud-Trace-Context", "4bf92f3577b34da6a3ce929d0e0e4736/1;o=1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.NotContains(t, buf.String(), traceKey)
}

// A refused exchange logs at WARNING with its code and the token's
// fingerprint, and neither the log nor the answer carries the token.
func TestRefusedExchangeLogsTheFingerprintNotTheToken(t *testing.T) {
	const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVc2VjcmV0In0.c2lnbmF0dXJl"
	refuse := exchangerFunc(func(context.Context, string) (*bridge.Result, error) {
		return nil, bridge.Errorf(bridge.CodeInvalidSignature, "signature does not verify")
	})
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelDebug)
	h := Trace("proj-1")(HandleExchange(log, nil, refuse))
	req := httptest.NewRequest(http.MethodPost, "/exchange", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Cloud-Trace-Context", "4bf92f3577b34da6a3ce929d0e0e4736/1;o=1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.NotContains(t, rec.Body.String(), token)
	assert.NotContains(t, buf.String(), token)
	lines := logLines(t, &buf)
	require.Len(t, lines, 1)
	assert.Equal(t, "WARNING", lines[0]["severity"])
	assert.Equal(t, "request refused", lines[0]["message"])
	assert.Equal(t, "invalid_signature", lines[0]["code"])
	assert.Equal(t, TokenFingerprint(token), lines[0]["token_sha256"])
	assert.Equal(t, "projects/proj-1/traces/4bf92f3577b34da6a3ce929d0e0e4736", lines[0][traceKey])
}

type exchangerFunc func(context.Context, string) (*bridge.Result, error)

func (f exchangerFunc) Exchange(ctx context.Context, token string) (*bridge.Result, error) {
	return f(ctx, token)
}

func (f exchangerFunc) ExchangeSession(ctx context.Context, s *bridge.Session) (*bridge.Result, error) {
	return f(ctx, s.UserID)
}
