package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/flow"
	"github.com/dfbridge/dfbridge/metrics"
	"github.com/dfbridge/dfbridge/webhook"
)

// countingBody records whether anything read it.
type countingBody struct {
	io.Reader
	read atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return nil }

func guardedAudit(t *testing.T, g *webhook.Guard, queueSize, capacity int) http.Handler {
	t.Helper()
	log, _ := newLogger()
	return webhook.HandleAudit(webhook.AuditConfig{
		ProjectID: project, Secrets: webhook.NewSecrets([]string{hmacSecret}, nil),
		Queue: flow.NewMemoryQueue(queueSize), Marks: webhook.NewMemoryMarks(10_000, time.Hour),
		Log: log, Metrics: metrics.New(), Guard: g, QueueCapacity: capacity,
	})
}

// A call with no credential of a configured type is refused before a
// byte of its body is read; a forged signature is refused after reading,
// hashed as the body streamed.
func TestAWebhookCallWithoutCredentialsIsRefusedUnread(t *testing.T) {
	h := guardedAudit(t, webhook.NewGuard(webhook.DefaultBodyBudget, 0, 0), 100, 0)
	cases := []struct {
		name     string
		sig      string
		wantRead bool
	}{
		{"no signature header", "", false},
		{"a signature that is not base64", "%%%", false},
		{"a signature of the wrong length", "c2hvcnQ=", false},
		{"a well-formed forged signature is read, then refused", descopestub.WebhookSignature("wrong-secret", []byte(`[]`)), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingBody{Reader: bytes.NewReader(bytes.Repeat([]byte(" "), 100_000))}
			req := httptest.NewRequest(http.MethodPost, "/webhook/audit", nil)
			req.Body, req.ContentLength = body, 100_000
			if tc.sig != "" {
				req.Header.Set(webhook.SignatureHeader, tc.sig)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.Equal(t, tc.wantRead, body.read.Load() > 0, "body bytes read: %d", body.read.Load())
		})
	}
}

// An address whose calls keep failing authentication is refused with 429,
// unread, while another address and an authenticated caller are not.
func TestAnAddressThatKeepsFailingIsRefusedUnread(t *testing.T) {
	h := guardedAudit(t, webhook.NewGuard(webhook.DefaultBodyBudget, 30, 0), 100, 0)
	from := func(addr, sig string) (int, int64) {
		body := &countingBody{Reader: bytes.NewReader([]byte(`[]`))}
		req := httptest.NewRequest(http.MethodPost, "/webhook/audit", nil)
		req.Body, req.ContentLength, req.RemoteAddr = body, 2, addr+":4000"
		if sig != "" {
			req.Header.Set(webhook.SignatureHeader, sig)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code, body.read.Load()
	}
	codes := map[int]int{}
	for range 20 {
		code, _ := from("192.0.2.1", "")
		codes[code]++
	}
	assert.Equal(t, 10, codes[http.StatusUnauthorized], "a burst of failures is answered 401")
	assert.Equal(t, 10, codes[http.StatusTooManyRequests], "then the address is refused")
	code, read := from("192.0.2.1", descopestub.WebhookSignature(hmacSecret, []byte(`[]`)))
	assert.Equal(t, http.StatusTooManyRequests, code)
	assert.Zero(t, read)
	code, _ = from("192.0.2.2", "")
	assert.Equal(t, http.StatusUnauthorized, code, "another address is not refused")
	for range 50 {
		code, _ = from("192.0.2.3", descopestub.WebhookSignature(hmacSecret, []byte(`[]`)))
		require.Equal(t, http.StatusAccepted, code, "authenticated calls are never charged")
	}
}

// Bodies being read share a budget: while slow senders hold it, another
// delivery waits, and past the wait is answered 503 busy, never read.
func TestSlowBodiesCannotHoldMoreThanTheBudget(t *testing.T) {
	g := webhook.NewGuard(2<<20, 0, 0) // room for two 1 MiB bodies
	h := guardedAudit(t, g, 100, 0)
	ts := httptest.NewServer(h)
	defer ts.Close()
	sig := descopestub.WebhookSignature(hmacSecret, bytes.Repeat([]byte(" "), 1<<20))
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr, pw := io.Pipe()
			go func() {
				_, _ = pw.Write([]byte(" "))
				<-release
				_ = pw.CloseWithError(io.ErrUnexpectedEOF)
			}()
			req, _ := http.NewRequest(http.MethodPost, ts.URL, pr)
			req.ContentLength = 1 << 20
			req.Header.Set(webhook.SignatureHeader, sig)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	require.Eventually(t, func() bool { return g.InUse() == 2<<20 }, 10*time.Second, time.Millisecond,
		"both slow senders hold their reservations")
	body := []byte(`[]`)
	start := time.Now()
	resp := deliverTo(t, ts.URL, body)
	assert.Equal(t, http.StatusServiceUnavailable, resp.Status, "no room: busy")
	assert.Equal(t, "busy", resp.code())
	assert.GreaterOrEqual(t, time.Since(start), time.Second)
	close(release)
	wg.Wait()
	resp = deliverTo(t, ts.URL, body)
	assert.Equal(t, http.StatusAccepted, resp.Status, "room again")
}

func deliverTo(t *testing.T, url string, body []byte) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := descopestub.Deliver(ctx, url, hmacSecret, body, nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	return readReply(t, resp)
}

// A delivery with more events than the event memory holds is still seen as
// a replay: the delivery is remembered whole.
func TestAReplayedDeliveryLargerThanTheEventMemoryIsADuplicate(t *testing.T) {
	log, _ := newLogger()
	q := flow.NewMemoryQueue(100_000)
	h := webhook.HandleAudit(webhook.AuditConfig{
		ProjectID: project, Secrets: webhook.NewSecrets([]string{hmacSecret}, nil),
		Queue: q, Marks: webhook.NewMemoryMarks(10_000, time.Hour), Log: log, Metrics: metrics.New(),
	})
	var b bytes.Buffer
	b.WriteString("[")
	for i := range 10_500 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"projectId":%q,"action":"UserModified","userId":"U%05d"}`, project, i)
	}
	b.WriteString("]")
	body := b.Bytes()
	require.Less(t, len(body), 1<<20, "under the body limit")

	first := deliver(t, h, hmacSecret, body, nil)
	require.Equal(t, http.StatusAccepted, first.Status)
	assert.Equal(t, float64(10_500), first.Body["jobs"])
	again := deliver(t, h, hmacSecret, body, nil)
	assert.Equal(t, http.StatusAccepted, again.Status)
	assert.Equal(t, "duplicate", again.Body["status"])
	assert.Equal(t, float64(0), again.Body["jobs"], "no job queued again")
	assert.Equal(t, 10_500, q.Depth(), "the queue holds each user once")
}

// An event naming more users than the queue can ever hold is refused with
// a 4xx that says what to change, not retried for ever.
func TestAnEventNamingMoreUsersThanTheQueueHoldsIsRefused(t *testing.T) {
	h := guardedAudit(t, nil, 10, 10)
	ids := make([]string, 11)
	for i := range ids {
		ids[i] = fmt.Sprintf("U%d", i)
	}
	stub, err := descopestub.New(descopestub.Options{ProjectID: project, KeyBits: 1024})
	require.NoError(t, err)
	body, err := stub.AuditDelivery(descopestub.AuditEvent{Action: "UsersModified", Data: map[string]any{"userIds": ids}})
	require.NoError(t, err)
	r := deliver(t, h, hmacSecret, body, nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	assert.Equal(t, "event_too_large", r.code())
}
