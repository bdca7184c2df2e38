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

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
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
	h := guardedAudit(t, webhook.NewGuard(webhook.GuardConfig{Budget: webhook.DefaultBodyBudget}), 100, 0)
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

// from posts body to h as if from addr (through one trusted proxy), signed
// with sig when set, and says what came back and how much was read.
func from(h http.Handler, addr, sig string, body []byte) (int, int64) {
	cb := &countingBody{Reader: bytes.NewReader(body)}
	req := httptest.NewRequest(http.MethodPost, "/webhook/audit", nil)
	req.Body, req.ContentLength, req.RemoteAddr = cb, int64(len(body)), addr+":4000"
	if sig != "" {
		req.Header.Set(webhook.SignatureHeader, sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, cb.read.Load()
}

// Failed calls never lock an address out: a correctly signed call from an
// address that has failed a hundred times is served, read and
// authenticated. (The former guard refused such an address's calls unread,
// Descope's own included.)
func TestAnAddressThatKeepsFailingStillGetsItsSignedCallsThrough(t *testing.T) {
	h := guardedAudit(t, webhook.NewGuard(webhook.GuardConfig{Budget: webhook.DefaultBodyBudget, RefusalsPerMinute: 30}), 100, 0)
	body := []byte(`[]`)
	for range 100 {
		code, read := from(h, "192.0.2.1", "", body)
		require.Equal(t, http.StatusUnauthorized, code, "an unsigned call is refused")
		require.Zero(t, read, "unread")
	}
	for range 100 {
		code, _ := from(h, "192.0.2.1", descopestub.WebhookSignature("wrong-secret-0123456789", body), body)
		require.Equal(t, http.StatusUnauthorized, code, "a forged call is refused")
	}
	code, read := from(h, "192.0.2.1", descopestub.WebhookSignature(hmacSecret, body), body)
	assert.Equal(t, http.StatusAccepted, code, "the signed call is served")
	assert.Equal(t, int64(len(body)), read)
	for range 50 {
		code, _ = from(h, "192.0.2.3", descopestub.WebhookSignature(hmacSecret, body), body)
		require.Equal(t, http.StatusAccepted, code, "authenticated calls are never charged")
	}
}

// slowSender starts a call to url from addr that declares n bytes and sends
// one, then stalls until release closes; its status arrives on the
// returned channel (0: no answer).
func slowSender(t *testing.T, url, addr string, n int64, release <-chan struct{}) <-chan int {
	t.Helper()
	done := make(chan int, 1)
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(" "))
		<-release
		_ = pw.CloseWithError(io.ErrUnexpectedEOF)
	}()
	req, err := http.NewRequest(http.MethodPost, url, pr)
	require.NoError(t, err)
	req.ContentLength = n
	req.Header.Set(webhook.SignatureHeader, descopestub.WebhookSignature("forged-secret-0123456789", nil))
	req.Header.Set("X-Forwarded-For", addr)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		_ = resp.Body.Close()
		done <- resp.StatusCode
	}()
	return done
}

// deliverFrom is deliverTo from addr, through one trusted proxy.
func deliverFrom(t *testing.T, url, addr string, body []byte) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := descopestub.Deliver(ctx, url, hmacSecret, body, http.Header{"X-Forwarded-For": {addr}})
	require.NoError(t, err)
	defer resp.Body.Close()
	return readReply(t, resp)
}

// One address that declares large bodies and sends them slowly holds at
// most its share of the budget: its further calls are answered 429 at
// once, and a signed delivery from another address is served. The security
// review's attack (8 slow 1 MiB calls with a fake signature) got 503 for
// every signed call before.
func TestOneSlowAddressCannotTakeTheBudget(t *testing.T) {
	g := webhook.NewGuard(webhook.GuardConfig{Budget: webhook.DefaultBodyBudget, RefusalsPerMinute: 60,
		TrustedProxies: 1, BodyDeadline: 30 * time.Second})
	ts := httptest.NewServer(guardedAudit(t, g, 100, 0))
	defer ts.Close()
	release := make(chan struct{})
	var answers []<-chan int
	for range 8 {
		answers = append(answers, slowSender(t, ts.URL, "198.51.100.7", 1<<20, release))
	}
	share := int64(webhook.DefaultBodyBudget / 4)
	require.Eventually(t, func() bool { return g.InUse() == share }, 10*time.Second, time.Millisecond,
		"the attacker holds its share and no more")
	refused := 0
	for _, a := range answers {
		select {
		case code := <-a:
			assert.Equal(t, http.StatusTooManyRequests, code)
			refused++
		case <-time.After(5 * time.Second):
		}
		if refused == 6 {
			break
		}
	}
	assert.Equal(t, 6, refused, "the calls past the share are answered 429 at once")
	for range 3 {
		r := deliverFrom(t, ts.URL, "203.0.113.9", []byte(`[]`))
		assert.Equal(t, http.StatusAccepted, r.Status, "a signed delivery from another address is served")
	}
	close(release)
}

// A body that does not arrive within the body deadline is answered 408,
// not left to hold its room for the server's whole read timeout, and the
// time-out is charged to its address.
func TestASlowBodyTimesOutWithA408(t *testing.T) {
	g := webhook.NewGuard(webhook.GuardConfig{Budget: webhook.DefaultBodyBudget, RefusalsPerMinute: 3,
		TrustedProxies: 1, BodyDeadline: 300 * time.Millisecond})
	ts := httptest.NewServer(guardedAudit(t, g, 100, 0))
	defer ts.Close()
	release := make(chan struct{})
	defer close(release)
	for i := range 3 {
		select {
		case code := <-slowSender(t, ts.URL, "198.51.100.8", 1000, release):
			assert.Equal(t, http.StatusRequestTimeout, code, "time-out %d", i)
		case <-time.After(10 * time.Second):
			t.Fatal("no answer to a stalled body")
		}
	}
	// Charged three times: the address is held to one body at a time.
	first := slowSender(t, ts.URL, "198.51.100.8", 1000, release)
	require.Eventually(t, func() bool { return g.InUse() == 1000 }, 10*time.Second, time.Millisecond)
	second := slowSender(t, ts.URL, "198.51.100.8", 1000, release)
	select {
	case code := <-second:
		assert.Equal(t, http.StatusTooManyRequests, code, "a second body at once is refused")
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to the second call")
	}
	assert.Equal(t, http.StatusRequestTimeout, <-first)
}

// A call proven by a header credential (here a bearer beside the HMAC
// secret) is not held to its address's share.
func TestHeaderCredentialsAreCheckedBeforeAnyRoomIsReserved(t *testing.T) {
	log, _ := newLogger()
	const bearer = "bearer-secret-0123456789"
	g := webhook.NewGuard(webhook.GuardConfig{Budget: webhook.DefaultBodyBudget, Share: 1, RefusalsPerMinute: 3})
	h := webhook.HandleAudit(webhook.AuditConfig{
		ProjectID: project, Secrets: webhook.NewSecrets([]string{hmacSecret}, []string{bearer}),
		Queue: flow.NewMemoryQueue(100), Marks: webhook.NewMemoryMarks(10_000, time.Hour),
		Log: log, Metrics: metrics.New(), Guard: g,
	})
	body := []byte(`[]`)
	for range 10 {
		code, read := from(h, "192.0.2.5", descopestub.WebhookSignature(hmacSecret, body), body)
		require.Equal(t, http.StatusUnauthorized, code, "no bearer: refused")
		require.Zero(t, read, "before a byte is read")
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := descopestub.Deliver(ctx, ts.URL, hmacSecret, body, http.Header{"Authorization": {"Bearer " + bearer}})
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusAccepted, resp.StatusCode, "a share of 1 byte does not hold a proven call back")
}

// Bodies being read share a budget: while slow senders from many
// addresses hold it, another delivery waits, and past the wait is answered
// 503 busy, never read.
func TestSlowBodiesCannotHoldMoreThanTheBudget(t *testing.T) {
	g := webhook.NewGuard(webhook.GuardConfig{Budget: 2 << 20, TrustedProxies: 1, BodyDeadline: 30 * time.Second}) // room for two 1 MiB bodies
	h := guardedAudit(t, g, 100, 0)
	ts := httptest.NewServer(h)
	defer ts.Close()
	release := make(chan struct{})
	a := slowSender(t, ts.URL, "198.51.100.1", 1<<20, release)
	b := slowSender(t, ts.URL, "198.51.100.2", 1<<20, release)
	require.Eventually(t, func() bool { return g.InUse() == 2<<20 }, 10*time.Second, time.Millisecond,
		"both slow senders hold their reservations")
	body := []byte(`[]`)
	start := time.Now()
	resp := deliverFrom(t, ts.URL, "203.0.113.1", body)
	assert.Equal(t, http.StatusServiceUnavailable, resp.Status, "no room: busy")
	assert.Equal(t, "busy", resp.code())
	assert.GreaterOrEqual(t, time.Since(start), time.Second)
	close(release)
	<-a
	<-b
	resp = deliverFrom(t, ts.URL, "203.0.113.1", body)
	assert.Equal(t, http.StatusAccepted, resp.Status, "room again")
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

// An event naming more users than the queue can ever hold is skipped,
// counted and logged with the setting to raise; the events beside it in
// the delivery are still applied (Descope does not retry a 4xx, so a 413
// for the whole delivery lost the UserDeleted behind it).
func TestAnEventNamingMoreUsersThanTheQueueHoldsDoesNotLoseItsNeighbours(t *testing.T) {
	log, logs := newLogger()
	q := flow.NewMemoryQueue(10)
	h := webhook.HandleAudit(webhook.AuditConfig{
		ProjectID: project, Secrets: webhook.NewSecrets([]string{hmacSecret}, nil),
		Queue: q, Marks: webhook.NewMemoryMarks(10_000, time.Hour),
		Log: log, Metrics: metrics.New(), QueueCapacity: 10,
	})
	ids := make([]string, 11)
	for i := range ids {
		ids[i] = fmt.Sprintf("U%d", i)
	}
	stub, err := descopestub.New(descopestub.Options{ProjectID: project, KeyBits: 1024})
	require.NoError(t, err)
	body, err := stub.AuditDelivery(descopestub.AuditEvent{Action: "UsersModified", Data: map[string]any{"userIds": ids}},
		descopestub.AuditEvent{Action: "UserDeleted", UserID: "Ubehind"})
	require.NoError(t, err)
	r := deliver(t, h, hmacSecret, body, nil)
	assert.Equal(t, http.StatusAccepted, r.Status)
	assert.Equal(t, float64(1), r.Body["jobs"], "the UserDeleted behind it is queued")
	assert.Equal(t, float64(1), r.Body["tooLarge"])
	assert.Equal(t, 1, q.Depth())
	assert.Contains(t, logs.String(), "LIFECYCLE_QUEUE_SIZE")
}

// An event older than the dedupe window is not applied again: past the
// window a replay would no longer be recognised, so a captured delivery
// replayed then (or after a restart without Redis, once its events are
// that old) is ignored, counted and logged. With a fresh `occurred`, or
// none, the event is applied.
func TestAnEventOlderThanTheDedupeWindowIsIgnored(t *testing.T) {
	log, logs := newLogger()
	m := metrics.New()
	q := flow.NewMemoryQueue(10)
	now := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	h := webhook.HandleAudit(webhook.AuditConfig{
		ProjectID: project, Secrets: webhook.NewSecrets([]string{hmacSecret}, nil),
		Queue: q, Marks: webhook.NewMemoryMarks(10_000, time.Hour),
		Log: log, Metrics: m, MaxAge: time.Hour, Now: func() time.Time { return now },
	})
	stub, err := descopestub.New(descopestub.Options{ProjectID: project, KeyBits: 1024})
	require.NoError(t, err)
	old, err := stub.AuditDelivery(descopestub.AuditEvent{Action: "LoginExceedMaxAttempts", UserID: "Uold", Occurred: now.Add(-61 * time.Minute)})
	require.NoError(t, err)
	r := deliver(t, h, hmacSecret, old, nil)
	assert.Equal(t, http.StatusAccepted, r.Status)
	assert.Equal(t, "ignored", r.Body["status"])
	assert.Equal(t, float64(0), r.Body["jobs"], "no revoke is queued")
	assert.Equal(t, float64(1), testutil.ToFloat64(m.WebhookEvents.WithLabelValues("LoginExceedMaxAttempts", "stale")))
	assert.Contains(t, logs.String(), "AUDIT_WEBHOOK_DEDUPE_WINDOW")

	fresh, err := stub.AuditDelivery(descopestub.AuditEvent{Action: "LoginExceedMaxAttempts", UserID: "Unew", Occurred: now.Add(-59 * time.Minute)})
	require.NoError(t, err)
	r = deliver(t, h, hmacSecret, fresh, nil)
	assert.Equal(t, float64(1), r.Body["jobs"], "an event inside the window is applied")

	numeric := []byte(fmt.Sprintf(`[{"projectId":%q,"action":"UserModified","userId":"Unum","occurred":%d}]`, project, now.Add(-2*time.Hour).UnixMilli()))
	r = deliver(t, h, hmacSecret, numeric, nil)
	assert.Equal(t, "ignored", r.Body["status"], "occurred as a JSON number is read too")
	bad := []byte(fmt.Sprintf(`[{"projectId":%q,"action":"UserModified","userId":"Ubad","occurred":"yesterday"}]`, project))
	r = deliver(t, h, hmacSecret, bad, nil)
	assert.Equal(t, float64(1), r.Body["malformed"], "an occurred that is not Unix milliseconds is malformed")
}

// An event's login IDs travel with its job only when it names exactly one
// user: a batch's list cannot be told apart user by user, so with
// uid.from: loginId every job of a batch resolved to the first ID.
func TestLoginIDsTravelOnlyWithAnEventNamingOneUser(t *testing.T) {
	log, _ := newLogger()
	q := &recordingQueue{}
	h := webhook.HandleAudit(webhook.AuditConfig{
		ProjectID: project, Secrets: webhook.NewSecrets([]string{hmacSecret}, nil),
		Queue: q, Marks: webhook.NewMemoryMarks(10_000, time.Hour), Log: log, Metrics: metrics.New(),
	})
	one := []byte(fmt.Sprintf(`[{"projectId":%q,"action":"UserDeleted","userId":"U1","loginIds":["a@example.com"]}]`, project))
	batch := []byte(fmt.Sprintf(`[{"projectId":%q,"action":"UsersDeleted","loginIds":["a@example.com","b@example.com","c@example.com"],"data":{"userIds":["U1","U2","U3"]}}]`, project))
	require.Equal(t, http.StatusAccepted, deliver(t, h, hmacSecret, one, nil).Status)
	require.Equal(t, http.StatusAccepted, deliver(t, h, hmacSecret, batch, nil).Status)
	require.Len(t, q.jobs, 4)
	assert.Equal(t, []string{"a@example.com"}, q.jobs[0].LoginIDs, "one user: its login IDs")
	for _, j := range q.jobs[1:] {
		assert.Empty(t, j.LoginIDs, "a batch: none, for %s", j.UserID)
	}
}

// recordingQueue keeps what it is given.
type recordingQueue struct {
	mu   sync.Mutex
	jobs []bridge.Job
}

func (q *recordingQueue) Enqueue(_ context.Context, jobs []bridge.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, jobs...)
	return nil
}
