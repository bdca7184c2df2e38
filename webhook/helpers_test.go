package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/httpapi"
)

const (
	project      = "Pwebhook"
	hmacSecret   = "hmac-secret-0123456789abcdef"
	bearerSecret = "bearer-secret-0123456789abcdef"
)

// logBuffer collects a handler's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return httpapi.NewLogger(buf, slog.LevelDebug), buf
}

type reply struct {
	Status int
	Body   map[string]any
}

func (r reply) code() string {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// deliver posts body to h the way Descope's connector does, signed with
// secret (none when empty), with extra headers.
func deliver(t *testing.T, h http.Handler, secret string, body []byte, header http.Header) reply {
	t.Helper()
	ts := httptest.NewServer(h)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := descopestub.Deliver(ctx, ts.URL, secret, body, header)
	require.NoError(t, err)
	defer resp.Body.Close()
	return readReply(t, resp)
}

// send is deliver, or deliverChunked when chunked.
func send(t *testing.T, h http.Handler, secret string, body []byte, header http.Header, chunked bool) reply {
	t.Helper()
	if chunked {
		return deliverChunked(t, h, secret, body)
	}
	return deliver(t, h, secret, body, header)
}

// deliverChunked posts body with no Content-Length, so only reading it can
// tell its size.
func deliverChunked(t *testing.T, h http.Handler, secret string, body []byte) reply {
	t.Helper()
	ts := httptest.NewServer(h)
	defer ts.Close()
	req, err := http.NewRequest(http.MethodPost, ts.URL, io.MultiReader(bytes.NewReader(body)))
	require.NoError(t, err)
	req.ContentLength = -1
	req.Header.Set(descopestub.WebhookSignatureHeader, descopestub.WebhookSignature(secret, body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return readReply(t, resp)
}

func readReply(t *testing.T, resp *http.Response) reply {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "body: %s", b)
	return reply{Status: resp.StatusCode, Body: m}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// payload decodes a JWT's payload without verifying it.
func payload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}
