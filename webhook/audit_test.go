package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/bridge/bridgetest"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/flow"
	"github.com/dfbridge/dfbridge/metrics"
	"github.com/dfbridge/dfbridge/webhook"
)

// auditFixture is the audit handler over in-memory Descope users and
// Firebase accounts (so a test can make either fail on demand), with the
// in-memory lifecycle queue and its workers running in the background.
type auditFixture struct {
	h        http.Handler
	users    *bridgetest.Users
	accounts *bridgetest.Accounts
	metrics  *metrics.Metrics
	logs     *logBuffer
	stub     *descopestub.Stub
	queue    *flow.MemoryQueue
	failed   atomic.Int64
}

func newAudit(t *testing.T, revokeOnMaxAttempts bool) *auditFixture {
	return newAuditWith(t, revokeOnMaxAttempts, 100_000, true)
}

// newAuditWith builds the fixture with a queue of size keys; with run
// false no worker runs, so jobs stay queued.
func newAuditWith(t *testing.T, revokeOnMaxAttempts bool, size int, run bool) *auditFixture {
	t.Helper()
	f := &auditFixture{users: bridgetest.NewUsers(), accounts: bridgetest.NewAccounts(), metrics: metrics.New()}
	log, logs := newLogger()
	f.logs = logs
	stub, err := descopestub.New(descopestub.Options{ProjectID: project, KeyBits: 1024})
	require.NoError(t, err)
	f.stub = stub
	f.queue = flow.NewMemoryQueue(size)
	lc := &bridge.Lifecycle{
		ProjectID:  project,
		Users:      f.users,
		Accounts:   f.accounts,
		Identities: &bridge.Exchange{Mapping: bridge.DefaultMapping()},
	}
	f.h = webhook.HandleAudit(webhook.AuditConfig{
		ProjectID:           project,
		Secrets:             webhook.NewSecrets([]string{hmacSecret}, nil),
		Queue:               f.queue,
		Marks:               webhook.NewMemoryMarks(1000, time.Hour),
		RevokeOnMaxAttempts: revokeOnMaxAttempts,
		Log:                 log,
		Metrics:             f.metrics,
	})
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			retry := bridge.Retry{Attempts: 3, Base: time.Millisecond, Max: 5 * time.Millisecond}
			f.queue.Run(ctx, 8, retry, func(ctx context.Context, j bridge.Job) error {
				_, err := lc.Run(ctx, j)
				if err != nil && !bridge.Retryable(err) {
					f.failed.Add(1)
					return nil
				}
				return err
			}, func(bridge.Job, error) { f.failed.Add(1) })
		}()
		t.Cleanup(func() { cancel(); <-done })
	}
	return f
}

// settle waits until every queued job has run.
func (f *auditFixture) settle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, f.queue.WaitIdle(ctx), "the queue drains")
}

// signedIn puts the account uid as the bridge adopted it at its first
// exchange: its claims, marked, with the record of the keys it set.
func (f *auditFixture) signedIn(uid string, roles ...any) {
	claims := map[string]any{bridge.MarkerClaim: uid, bridge.OwnerClaim: map[string]any{"k": []any{}, "c": true}}
	if len(roles) > 0 {
		claims["roles"] = roles
		claims[bridge.OwnerClaim] = map[string]any{"k": []any{"roles"}, "c": true}
	}
	f.accounts.Put(bridge.AccountRef{UID: uid}, bridge.Account{Claims: claims})
}

func (f *auditFixture) account(t *testing.T, uid string) bridgetest.Account {
	t.Helper()
	a, ok := f.accounts.Get(bridge.AccountRef{UID: uid})
	require.True(t, ok, "account %s exists", uid)
	return a
}

func (f *auditFixture) delivery(t *testing.T, events ...descopestub.AuditEvent) []byte {
	t.Helper()
	b, err := f.stub.AuditDelivery(events...)
	require.NoError(t, err)
	return b
}

// accepted checks a 202 that queued jobs, then waits for them to run.
func (f *auditFixture) accepted(t *testing.T, r reply, jobs int) {
	t.Helper()
	require.Equal(t, http.StatusAccepted, r.Status, "body: %v", r.Body)
	assert.Equal(t, "accepted", r.Body["status"])
	assert.Equal(t, float64(jobs), r.Body["jobs"])
	f.settle(t)
}

func TestAuditUserDeletedDisablesAndRevokes(t *testing.T) {
	f := newAudit(t, true)
	f.signedIn("U1", "admin")
	body := f.delivery(t, descopestub.AuditEvent{Action: "UserDeleted", UserID: "U1", LoginIDs: []string{"u1@example.com"}})

	f.accepted(t, deliver(t, f.h, hmacSecret, body, nil), 1)
	acct := f.account(t, "U1")
	assert.True(t, acct.Disabled)
	assert.Equal(t, 1, acct.Revocations)
	assert.Equal(t, float64(1), testutil.ToFloat64(f.metrics.WebhookEvents.WithLabelValues("UserDeleted", "accepted")))

	t.Run("a replayed delivery changes nothing, even after an admin re-enabled the account", func(t *testing.T) {
		enabled := false
		require.NoError(t, f.accounts.UpdateAccount(t.Context(), bridge.AccountRef{UID: "U1"}, bridge.AccountUpdate{Disabled: &enabled}))
		r := deliver(t, f.h, hmacSecret, body, nil)
		assert.Equal(t, http.StatusAccepted, r.Status)
		assert.Equal(t, "duplicate", r.Body["status"])
		f.settle(t)
		acct := f.account(t, "U1")
		assert.False(t, acct.Disabled)
		assert.Equal(t, 1, acct.Revocations)
		assert.Equal(t, float64(1), testutil.ToFloat64(f.metrics.WebhookEvents.WithLabelValues("audit_delivery", "duplicate")))
	})
}

func TestAuditBatchDeletionEndsEveryAccount(t *testing.T) {
	f := newAudit(t, true)
	for _, uid := range []string{"U1", "U2", "U3"} {
		f.signedIn(uid, "viewer")
	}
	body := f.delivery(t,
		descopestub.AuditEvent{Action: "UsersDeleted", Data: map[string]any{"userIds": []string{"U1", "U2"}}},
		descopestub.AuditEvent{Action: "UsersDeleted", Data: map[string]any{"users": []any{map[string]any{"userId": "U3"}, "U1"}}},
	)
	f.accepted(t, deliver(t, f.h, hmacSecret, body, nil), 4)
	for _, uid := range []string{"U1", "U2", "U3"} {
		acct := f.account(t, uid)
		assert.True(t, acct.Disabled, uid)
		assert.Equal(t, 1, acct.Revocations, "%s named twice is ended once", uid)
	}
}

func TestAuditUserModifiedSyncsFromDescopeNotThePayload(t *testing.T) {
	f := newAudit(t, true)
	f.signedIn("U1", "admin", "editor")
	f.users.Put(bridge.DescopeUser{UserID: "U1", Roles: []string{"editor"}, Name: "Ada"})
	// The payload claims admin is still there; only Descope's answer counts.
	body := f.delivery(t, descopestub.AuditEvent{Action: "UserModified", UserID: "U1",
		Data: map[string]any{"Change": map[string]any{"roleNames": []string{"admin", "editor"}}}})

	f.accepted(t, deliver(t, f.h, hmacSecret, body, nil), 1)
	acct := f.account(t, "U1")
	assert.Equal(t, map[string]any{"roles": []any{"editor"}, bridge.MarkerClaim: "U1",
		bridge.OwnerClaim: map[string]any{"k": []any{"roles"}, "c": true}}, acct.Claims)
	assert.Equal(t, 1, acct.Revocations, "a removed role revokes")
	assert.Equal(t, "Ada", acct.DisplayName)
}

// One user named by ten events is one sync: the jobs coalesce by user
// while they wait.
func TestAuditEventsForOneUserCoalesce(t *testing.T) {
	f := newAuditWith(t, true, 100, false)
	var events []descopestub.AuditEvent
	for i := range 10 {
		events = append(events, descopestub.AuditEvent{Action: "UserModified", UserID: "U1", Data: map[string]any{"n": i}})
	}
	r := deliver(t, f.h, hmacSecret, f.delivery(t, events...), nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %v", r.Body)
	assert.Equal(t, float64(10), r.Body["jobs"], "ten events accepted")
	assert.Equal(t, 1, f.queue.Depth(), "one job waits")
}

func TestAuditLoginExceedMaxAttempts(t *testing.T) {
	cases := []struct {
		name        string
		revoke      bool
		wantRevoked int
	}{
		{"revokes sessions when configured to", true, 1},
		{"only re-reads the user when not", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newAudit(t, tc.revoke)
			f.signedIn("U1", "viewer")
			f.users.Put(bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}})
			// A first sync writes the claims, so the next one has no
			// unknown sessions to revoke.
			require.NoError(t, f.syncOnce("U1"))
			body := f.delivery(t, descopestub.AuditEvent{Action: "LoginExceedMaxAttempts", UserID: "U1", Type: "warn"})
			f.accepted(t, deliver(t, f.h, hmacSecret, body, nil), 1)
			assert.Equal(t, tc.wantRevoked, f.account(t, "U1").Revocations)
		})
	}
}

// syncOnce converges uid directly, outside the webhook.
func (f *auditFixture) syncOnce(uid string) error {
	lc := &bridge.Lifecycle{ProjectID: project, Users: f.users, Accounts: f.accounts,
		Identities: &bridge.Exchange{Mapping: bridge.DefaultMapping()}}
	_, err := lc.Run(context.Background(), bridge.Job{Kind: bridge.JobUser, UserID: uid})
	return err
}

func TestAuditIgnoresWhatItDoesNotActOn(t *testing.T) {
	cases := []struct {
		name   string
		events []descopestub.AuditEvent
		metric [2]string
	}{
		{"other events are accepted and counted", []descopestub.AuditEvent{{Action: "LoginSucceed", UserID: "U1"}}, [2]string{"other", "ignored"}},
		{"a user event that names no user is counted", []descopestub.AuditEvent{{Action: "UserDeleted"}}, [2]string{"UserDeleted", "no_user_id"}},
		{"an empty delivery is accepted", nil, [2]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newAudit(t, true)
			f.signedIn("U1", "viewer")
			r := deliver(t, f.h, hmacSecret, f.delivery(t, tc.events...), nil)
			assert.Equal(t, http.StatusAccepted, r.Status)
			assert.Equal(t, "ignored", r.Body["status"])
			f.settle(t)
			assert.False(t, f.account(t, "U1").Disabled)
			if tc.metric[0] != "" {
				assert.Equal(t, float64(1), testutil.ToFloat64(f.metrics.WebhookEvents.WithLabelValues(tc.metric[0], tc.metric[1])))
			}
		})
	}

	t.Run("an event of another project is ignored", func(t *testing.T) {
		f := newAudit(t, true)
		f.signedIn("U1", "viewer")
		body := []byte(`[{"projectId":"Pother","action":"UserDeleted","userId":"U1"}]`)
		r := deliver(t, f.h, hmacSecret, body, nil)
		assert.Equal(t, http.StatusAccepted, r.Status)
		f.settle(t)
		assert.False(t, f.account(t, "U1").Disabled)
	})
}

// A poisoned batch: an event the bridge does not act on, with fields of
// types nothing expects, and a malformed event it does act on, sit beside
// real events. The delivery is answered 202, the odd events are counted and
// skipped, and the real ones are all applied.
func TestAuditPoisonedBatchAppliesTheRealEvents(t *testing.T) {
	f := newAudit(t, true)
	for _, uid := range []string{"U1", "U2", "U3"} {
		f.signedIn(uid, "viewer")
	}
	body := []byte(`[
		{"action":"UserDeleted","userId":"U1"},
		{"action":"LoginSucceed","userId":7,"data":{"user":"not-an-object","users":{"x":1}}},
		{"action":"UserDeleted","userId":["not","a","string"]},
		"not a record",
		{"no":"action"},
		{"action":"UsersDeleted","data":{"userIds":["U2","U3"]}}
	]`)
	r := deliver(t, f.h, hmacSecret, body, nil)
	f.accepted(t, r, 3)
	assert.Equal(t, float64(1), r.Body["malformed"])
	assert.Equal(t, float64(3), r.Body["ignored"])
	for _, uid := range []string{"U1", "U2", "U3"} {
		assert.True(t, f.account(t, uid).Disabled, uid)
	}
	assert.Equal(t, float64(1), testutil.ToFloat64(f.metrics.WebhookEvents.WithLabelValues("UserDeleted", "malformed")))
	assert.Contains(t, f.logs.String(), `"message":"audit event malformed; skipped"`)
}

// Parsing is linear: an ignored event naming ten times the user IDs takes
// about ten times as long, not a hundred (the old parser deduplicated with
// a list search and took ~10 s for 70,000 IDs).
func TestAuditIgnoredBigEventIsReadInLinearTime(t *testing.T) {
	f := newAudit(t, true)
	f.signedIn("U1", "viewer")
	timed := func(n int) time.Duration {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("U%07d", i)
		}
		body := f.delivery(t, descopestub.AuditEvent{Action: "LoginSucceed", Data: map[string]any{"userIds": ids}},
			descopestub.AuditEvent{Action: "UsersModified", Data: map[string]any{"userIds": ids[:n/10]}})
		require.Less(t, len(body), webhook.MaxAuditBody)
		start := time.Now()
		r := deliver(t, f.h, hmacSecret, body, nil)
		took := time.Since(start)
		require.Equal(t, http.StatusAccepted, r.Status, "body: %v", r.Body)
		return took
	}
	timed(7_000) // warm up
	small, big := timed(7_000), timed(70_000)
	t.Logf("7,000 IDs answered in %v; 70,000 IDs in %v", small, big)
	assert.Less(t, big, 40*small+50*time.Millisecond, "linear, not quadratic")
}

// A big batch is answered at once and applied in the background.
func TestAuditBigBatchIsAnsweredAtOnceAndAppliedInTheBackground(t *testing.T) {
	f := newAudit(t, true)
	const n = 20_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("U%07d", i)
		f.signedIn(ids[i], "viewer")
	}
	body := f.delivery(t, descopestub.AuditEvent{Action: "UsersDeleted", Data: map[string]any{"userIds": ids}})
	start := time.Now()
	r := deliver(t, f.h, hmacSecret, body, nil)
	answered := time.Since(start)
	f.accepted(t, r, n)
	applied := time.Since(start)
	t.Logf("%d users: answered in %v, all applied in %v (%.0f users/s, in-memory accounts)",
		n, answered, applied, float64(n)/applied.Seconds())
	for _, id := range ids {
		if !f.account(t, id).Disabled {
			t.Fatalf("%s not disabled", id)
		}
	}
	assert.Zero(t, f.failed.Load())
}

// A full queue refuses with 503 and Retry-After, so Descope retries; the
// events accepted before it filled are remembered, and the retry redoes
// only the rest.
func TestAuditFullQueueAnswers503AndTheRetryTakesTheRest(t *testing.T) {
	f := newAuditWith(t, true, 2, false)
	body := f.delivery(t,
		descopestub.AuditEvent{Action: "UserDeleted", UserID: "U1"},
		descopestub.AuditEvent{Action: "UserDeleted", UserID: "U2"},
		descopestub.AuditEvent{Action: "UserDeleted", UserID: "U3"},
	)
	r := deliver(t, f.h, hmacSecret, body, nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.Status)
	assert.Equal(t, "busy", r.code())
	assert.Equal(t, 2, f.queue.Depth())

	// The queue drains, and Descope retries.
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan string, 10)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		f.queue.Run(ctx, 1, bridge.Retry{Attempts: 1}, func(_ context.Context, j bridge.Job) error { ran <- j.UserID; return nil }, nil)
	}()
	require.Equal(t, "U1", <-ran)
	require.Equal(t, "U2", <-ran)
	require.NoError(t, f.queue.WaitIdle(ctx))
	cancel()
	<-stopped

	r = deliver(t, f.h, hmacSecret, body, nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %v", r.Body)
	assert.Equal(t, float64(2), r.Body["duplicates"], "the two accepted events are not redone")
	assert.Equal(t, float64(1), r.Body["jobs"])
}

// A job that meets a Descope or Firebase failure is retried with backoff
// until it converges.
func TestAuditJobsRetryUpstreamFailures(t *testing.T) {
	f := newAudit(t, true)
	f.signedIn("U1", "viewer")
	f.users.Put(bridge.DescopeUser{UserID: "U1", Status: "disabled"})
	f.users.FailNext(2, bridge.Wrap(bridge.CodeUpstream, errors.New("descope answered 503"), "loading descope user"))
	body := f.delivery(t, descopestub.AuditEvent{Action: "UserModified", UserID: "U1"})
	f.accepted(t, deliver(t, f.h, hmacSecret, body, nil), 1)
	assert.True(t, f.account(t, "U1").Disabled, "the third try converged")
	assert.Zero(t, f.failed.Load())
}

func TestAuditEventNoRetryCanFixDoesNotFailTheDelivery(t *testing.T) {
	f := newAudit(t, true)
	f.signedIn("U2", "viewer")
	tooLong := strings.Repeat("u", 129) // maps to no valid Firebase UID
	body := f.delivery(t,
		descopestub.AuditEvent{Action: "UserDeleted", UserID: tooLong},
		descopestub.AuditEvent{Action: "UserDeleted", UserID: "U2"},
	)
	f.accepted(t, deliver(t, f.h, hmacSecret, body, nil), 2)
	assert.True(t, f.account(t, "U2").Disabled)
	assert.Equal(t, int64(1), f.failed.Load())
}

func TestAuditRefusals(t *testing.T) {
	valid := []byte(`[{"action":"UserDeleted","userId":"U1"}]`)
	oversized := append([]byte(`[{"action":"UserDeleted","userId":"U1","data":{"pad":"`), bytes.Repeat([]byte("x"), webhook.MaxAuditBody)...)
	oversized = append(oversized, `"}}]`...)
	cases := []struct {
		name    string
		sign    string
		body    []byte
		header  http.Header
		chunked bool
		status  int
		code    string
	}{
		{name: "a missing signature is refused", body: valid, status: 401, code: "unauthorized"},
		{name: "a signature with a wrong secret is refused", sign: "wrong-secret-0123456789abcdef", body: valid, status: 401, code: "unauthorized"},
		{name: "a forged signature (over another body) is refused", body: valid,
			header: http.Header{"X-Descope-Webhook-S256": {descopestub.WebhookSignature(hmacSecret, []byte(`[]`))}}, status: 401, code: "unauthorized"},
		{name: "an oversized body is refused before it is read", sign: hmacSecret, body: oversized, status: 413, code: "request_too_large"},
		{name: "an oversized body with no length is refused while read", sign: hmacSecret, body: oversized, chunked: true, status: 413, code: "request_too_large"},
		{name: "a body that is not JSON is refused", sign: hmacSecret, body: []byte(`[{"action":`), status: 400, code: "bad_request"},
		{name: "a body that is neither a record nor a list is refused", sign: hmacSecret, body: []byte(`{"hello":"world"}`), status: 400, code: "bad_request"},
		{name: "a body that is a bare string is refused", sign: hmacSecret, body: []byte(`"UserDeleted"`), status: 400, code: "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newAudit(t, true)
			f.signedIn("U1", "viewer")
			r := send(t, f.h, tc.sign, tc.body, tc.header, tc.chunked)
			assert.Equal(t, tc.status, r.Status)
			assert.Equal(t, tc.code, r.code())
			f.settle(t)
			assert.False(t, f.account(t, "U1").Disabled, "nothing was applied")
			assert.Equal(t, float64(1), testutil.ToFloat64(f.metrics.WebhookEvents.WithLabelValues("audit_delivery", tc.code)))
		})
	}
}

func TestAuditAcceptsTheShapesItDocuments(t *testing.T) {
	cases := []struct {
		name string
		body string
	}{
		{"a list of records", `[{"action":"UserDeleted","userId":"U1"}]`},
		{"a single record", `{"action":"UserDeleted","userId":"U1"}`},
		{"records under \"events\"", `{"events":[{"action":"UserDeleted","userId":"U1"}]}`},
		{"records under \"audits\"", `{"audits":[{"action":"UserDeleted","userId":"U1"}]}`},
		{"the user in data.userId", `[{"action":"UserDeleted","data":{"userId":"U1"}}]`},
		{"the user in data.user", `[{"action":"UserDeleted","data":{"user":{"userId":"U1","email":"a@example.com"}}}]`},
		{"userIds on the record", `[{"action":"UsersDeleted","userIds":["U1"]}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newAudit(t, true)
			f.signedIn("U1", "viewer")
			f.accepted(t, deliver(t, f.h, hmacSecret, []byte(tc.body), nil), 1)
			assert.True(t, f.account(t, "U1").Disabled)
		})
	}
}
