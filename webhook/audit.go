package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/metrics"
)

// MaxAuditBody caps one audit delivery; a batch of audit records with their
// data is well under it.
const MaxAuditBody = 1 << 20

// Labels of the webhook metric beside the audit actions themselves.
const (
	// eventDelivery labels delivery-level outcomes.
	eventDelivery = "audit_delivery"
	// eventOther labels every event the bridge does not act on, so the
	// metric's label set stays bounded whatever Descope sends.
	eventOther = "other"
)

// actedOn reports whether the bridge acts on an audit action: whether
// bridge.JobFor, the one table of actions, knows it.
func actedOn(action string) bool {
	_, _, ok := bridge.JobFor(action)
	return ok
}

// EventMarks remembers the audit events already accepted, by a key derived
// from the event's bytes. It is per event, not per delivery, so a delivery
// retried after a partial failure redoes only what was not accepted.
type EventMarks interface {
	// Claim marks key accepted unless it already is, and reports whether
	// it was new.
	Claim(ctx context.Context, key string) (bool, error)
	// Release forgets a claim whose jobs were not accepted.
	Release(ctx context.Context, key string) error
}

// AuditConfig configures the audit endpoint.
type AuditConfig struct {
	// ProjectID is the Descope project; events naming another are ignored.
	ProjectID string
	Secrets   Secrets
	// Queue takes the per-user jobs an accepted delivery becomes.
	Queue bridge.JobQueue
	// Marks remembers accepted events.
	Marks EventMarks
	// RevokeOnMaxAttempts revokes a user's Firebase sessions on
	// LoginExceedMaxAttempts, beside re-reading the user.
	RevokeOnMaxAttempts bool
	Log                 *slog.Logger
	Metrics             *metrics.Metrics
	// Guard bounds unauthenticated calls' cost; shared with the connector
	// route. Nil: the default budget, no refusal limit.
	Guard *Guard
	// MaxAge is how old an event may be and still be applied: the dedupe
	// window, beyond which a replay would no longer be recognised. An
	// older event is ignored, counted and logged. 0: no limit.
	MaxAge time.Duration
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
	// QueueCapacity is the lifecycle queue's size: an event naming more
	// users can never be queued, so it is refused with a 4xx saying so
	// rather than retried for ever. 0: unknown.
	QueueCapacity int
}

// auditEvent is one audit record, reduced to what lifecycle sync needs.
type auditEvent struct {
	Action    string
	ProjectID string
	UserIDs   []string
	LoginIDs  []string
	// Roles are the role or permission names a role event names.
	Roles []string
	// Occurred is when Descope recorded the event; zero when not said.
	Occurred time.Time
	// key identifies the event among deliveries: the SHA-256 of its bytes
	// (Descope's records carry no ID).
	key string
}

type auditResponse struct {
	Status     string `json:"status"`
	Events     int    `json:"events"`
	Jobs       int    `json:"jobs"`
	Duplicates int    `json:"duplicates,omitempty"`
	Ignored    int    `json:"ignored,omitempty"`
	Malformed  int    `json:"malformed,omitempty"`
	// TooLarge counts events naming more users than the queue holds.
	TooLarge int `json:"tooLarge,omitempty"`
}

// HandleAudit serves POST /webhook/audit: Descope's audit webhook connector
// streams audit events, and the bridge keeps Firebase accounts in step.
//
// The request does no lifecycle work: it verifies the signature, reads the
// events in one linear pass, turns those it acts on into per-user jobs and
// hands them to the queue, then answers 202. Background workers re-read
// each user from Descope and converge the Firebase account. An event the
// bridge does not act on is counted and skipped whatever its fields hold;
// a malformed event it acts on is logged, counted and skipped, never the
// delivery. When the queue cannot take the jobs (full, unreachable,
// shutting down) the answer is 503 with Retry-After, so Descope retries;
// events accepted before that are remembered and not redone.
//
// Statuses: 202 accepted (or nothing to act on), 400 a body that is not
// JSON at all, 401 bad credentials, 413 too large, 503 retry later.
func HandleAudit(c AuditConfig) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, release, err := c.Guard.read(w, r, MaxAuditBody, c.Secrets)
		defer release() // the events are decoded into fresh strings
		if err != nil {
			c.Metrics.WebhookEvent(eventDelivery, string(bridge.CodeOf(err)))
			httpapi.WriteError(w, r, c.Log, err)
			return
		}
		records, err := splitAuditDelivery(body)
		if err != nil {
			c.Metrics.WebhookEvent(eventDelivery, string(bridge.CodeOf(err)))
			httpapi.WriteError(w, r, c.Log, err)
			return
		}
		resp := auditResponse{Status: "accepted", Events: len(records)}
		// The delivery is remembered whole as well as event by event, so a
		// replay of a delivery larger than the event memory is still seen.
		dkey := deliveryKey(body)
		if fresh, err := c.Marks.Claim(r.Context(), dkey); err != nil {
			c.refuse(w, r, resp, bridge.Wrap(bridge.CodeBusy, err, "remembering audit delivery"))
			return
		} else if !fresh {
			resp.Status, resp.Duplicates = "duplicate", len(records)
			c.Metrics.WebhookEvent(eventDelivery, "duplicate")
			c.Log.LogAttrs(r.Context(), slog.LevelInfo, "audit delivery", slog.String("status", resp.Status),
				slog.Int("events", resp.Events))
			httpapi.WriteJSON(w, http.StatusAccepted, resp)
			return
		}
		if err := c.accept(r.Context(), &resp, records); err != nil {
			_ = c.Marks.Release(context.WithoutCancel(r.Context()), dkey)
			c.refuse(w, r, resp, err)
			return
		}
		c.finish(r.Context(), &resp)
		httpapi.WriteJSON(w, http.StatusAccepted, resp)
	})
}

// accept turns each record into jobs and queues them, counting what it
// did in resp. Its error is for the delivery as a whole: what is queued
// stays queued and remembered, the rest is for Descope to retry.
func (c AuditConfig) accept(ctx context.Context, resp *auditResponse, records []json.RawMessage) error {
	for _, raw := range records {
		e, act, err := readAuditRecord(raw)
		switch {
		case err != nil:
			resp.Malformed++
			c.Metrics.WebhookEvent(metricAction(e.Action), "malformed")
			c.Log.LogAttrs(ctx, slog.LevelWarn, "audit event malformed; skipped",
				slog.String("action", e.Action), slog.String("error", err.Error()))
			continue
		case !act:
			resp.Ignored++
			c.Metrics.WebhookEvent(eventOther, "ignored")
			continue
		case c.stale(e):
			resp.Ignored++
			c.Metrics.WebhookEvent(e.Action, "stale")
			c.Log.LogAttrs(ctx, slog.LevelWarn, "audit event older than the dedupe window; ignored (a replay, or a delivery held up)",
				slog.String("action", e.Action), slog.Time("occurred", e.Occurred),
				slog.String("max_age", c.MaxAge.String()), slog.String("setting", "AUDIT_WEBHOOK_DEDUPE_WINDOW"))
			continue
		}
		jobs := c.jobs(ctx, e)
		if len(jobs) == 0 {
			resp.Ignored++
			continue
		}
		if c.QueueCapacity > 0 && len(jobs) > c.QueueCapacity {
			// It can never be queued whole; the events beside it still are.
			resp.TooLarge++
			c.Metrics.WebhookEvent(e.Action, "too_large")
			c.Log.LogAttrs(ctx, slog.LevelError, "audit event names more users than the lifecycle queue holds; skipped",
				slog.String("action", e.Action), slog.Int("users", len(jobs)), slog.Int("queue_size", c.QueueCapacity),
				slog.String("setting", "LIFECYCLE_QUEUE_SIZE"))
			continue
		}
		fresh, err := c.Marks.Claim(ctx, e.key)
		if err != nil {
			return bridge.Wrap(bridge.CodeBusy, err, "remembering audit event")
		}
		if !fresh {
			resp.Duplicates++
			c.Metrics.WebhookEvent(e.Action, "duplicate")
			continue
		}
		if err := c.Queue.Enqueue(ctx, jobs); err != nil {
			_ = c.Marks.Release(context.WithoutCancel(ctx), e.key)
			return bridge.Wrap(bridge.CodeBusy, err, "queueing lifecycle jobs")
		}
		resp.Jobs += len(jobs)
		c.Metrics.WebhookEvent(e.Action, "accepted")
	}
	return nil
}

// stale reports whether e is older than MaxAge: past the window in which
// a replay of it would be recognised, so it is not applied again.
func (c AuditConfig) stale(e auditEvent) bool {
	if c.MaxAge <= 0 || e.Occurred.IsZero() {
		return false
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return now().Sub(e.Occurred) > c.MaxAge
}

// finish sets the delivery's status from what was done, counts and logs it.
func (c AuditConfig) finish(ctx context.Context, resp *auditResponse) {
	switch {
	case resp.Jobs > 0:
		c.Metrics.WebhookEvent(eventDelivery, "accepted")
	case resp.Duplicates > 0:
		resp.Status = "duplicate"
		c.Metrics.WebhookEvent(eventDelivery, "duplicate")
	default:
		resp.Status = "ignored"
		c.Metrics.WebhookEvent(eventDelivery, "ignored")
	}
	c.Log.LogAttrs(ctx, slog.LevelInfo, "audit delivery",
		slog.String("status", resp.Status), slog.Int("events", resp.Events), slog.Int("jobs", resp.Jobs),
		slog.Int("duplicates", resp.Duplicates), slog.Int("ignored", resp.Ignored), slog.Int("malformed", resp.Malformed))
}

// deliveryPrefix starts the marks of whole deliveries.
const deliveryPrefix = "d:"

// deliveryKey identifies a whole delivery among the event marks.
func deliveryKey(body []byte) string {
	sum := sha256.Sum256(body)
	return deliveryPrefix + hex.EncodeToString(sum[:])
}

// refuse answers a delivery the queue could not take (all or the rest of
// it) with 503, so Descope retries; the log says how far it got.
func (c AuditConfig) refuse(w http.ResponseWriter, r *http.Request, resp auditResponse, err error) {
	c.Metrics.WebhookEvent(eventDelivery, "busy")
	c.Log.LogAttrs(r.Context(), slog.LevelWarn, "audit delivery not fully accepted; the sender should retry",
		slog.Int("jobs_accepted", resp.Jobs), slog.String("error", err.Error()))
	httpapi.WriteError(w, r, c.Log, err)
}

// metricAction bounds the action label of the webhook metric.
func metricAction(action string) string {
	if actedOn(action) {
		return action
	}
	return eventOther
}

// jobs turns an event the bridge acts on into jobs, one per user, or one
// roles job; events of another project or naming no user give none.
func (c AuditConfig) jobs(ctx context.Context, e auditEvent) []bridge.Job {
	if e.ProjectID != "" && e.ProjectID != c.ProjectID {
		c.Metrics.WebhookEvent(e.Action, "other_project")
		c.Log.LogAttrs(ctx, slog.LevelWarn, "audit event for another project ignored",
			slog.String("action", e.Action), slog.String("project", e.ProjectID))
		return nil
	}
	kind, effect, _ := bridge.JobFor(e.Action)
	if kind == bridge.JobRoles {
		return []bridge.Job{{Kind: bridge.JobRoles, Roles: e.Roles}}
	}
	if len(e.UserIDs) == 0 {
		c.Metrics.WebhookEvent(e.Action, "no_user_id")
		c.Log.LogAttrs(ctx, slog.LevelWarn, "audit event names no user; ignored", slog.String("action", e.Action))
		return nil
	}
	revoke := effect.Revokes && c.RevokeOnMaxAttempts
	// An event's login IDs belong to its user only when it names exactly
	// one: a batch's list cannot be told apart user by user.
	loginIDs := e.LoginIDs
	if len(e.UserIDs) != 1 {
		loginIDs = nil
	}
	jobs := make([]bridge.Job, 0, len(e.UserIDs))
	for _, id := range e.UserIDs {
		jobs = append(jobs, bridge.Job{Kind: bridge.JobUser, UserID: id, LoginIDs: loginIDs, Revoke: revoke})
	}
	return jobs
}

// splitAuditDelivery splits a delivery into its records, unread: a JSON
// array of audit records (what Descope's connector sends), a single record,
// or an object holding the array under "events" or "audits". Only a body
// that is not one of these is refused.
func splitAuditDelivery(body []byte) ([]json.RawMessage, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var records []json.RawMessage
		if err := json.Unmarshal(body, &records); err != nil {
			return nil, bridge.Errorf(bridge.CodeBadRequest, "body is not JSON")
		}
		return records, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, bridge.Errorf(bridge.CodeBadRequest, "body is neither an audit record nor a list of them")
	}
	if _, isRecord := obj["action"]; isRecord {
		return []json.RawMessage{json.RawMessage(trimmed)}, nil
	}
	for _, name := range []string{"events", "audits"} {
		if raw, ok := obj[name]; ok {
			var records []json.RawMessage
			if err := json.Unmarshal(raw, &records); err != nil {
				return nil, wrongType(name, "a list")
			}
			return records, nil
		}
	}
	return nil, bridge.Errorf(bridge.CodeBadRequest, "body is neither an audit record nor a list of them")
}

// readAuditRecord reads one record. It reads the action first: act is
// false, with no error, for a record the bridge does not act on, whatever
// else it holds. For one it acts on, a field of the wrong type is an error
// for that record alone.
func readAuditRecord(raw json.RawMessage) (e auditEvent, act bool, err error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return e, false, nil // not an object: nothing the bridge acts on
	}
	if json.Unmarshal(fields["action"], &e.Action) != nil || !actedOn(e.Action) {
		return auditEvent{}, false, nil
	}
	sum := sha256.Sum256(raw)
	e.key = hex.EncodeToString(sum[:])
	v, err := decodeValue(raw)
	if err != nil {
		return e, true, err
	}
	m, _ := v.(map[string]any)
	full, err := readAuditEvent(m)
	full.key = e.key
	return full, true, err
}

func readAuditEvent(m map[string]any) (auditEvent, error) {
	var e auditEvent
	var err error
	if e.Action, err = stringField(m, "action"); err != nil {
		return e, err
	}
	if e.ProjectID, err = stringField(m, "projectId"); err != nil {
		return e, err
	}
	if e.LoginIDs, err = stringsField(m, "loginIds", "externalIds"); err != nil {
		return e, err
	}
	if e.Occurred, err = timeField(m, "occurred"); err != nil {
		return e, err
	}
	data, err := objectField(m, "data")
	if err != nil {
		return e, err
	}
	if kind, _, _ := bridge.JobFor(e.Action); kind == bridge.JobRoles {
		e.Roles, err = roleNames(data)
		return e, err
	}
	seen := map[string]bool{}
	add := func(more ...string) error {
		for _, id := range more {
			if len(id) > maxUserIDBytes {
				return bridge.Errorf(bridge.CodeBadRequest, "user ID is %d bytes", len(id))
			}
			if id != "" && !seen[id] {
				seen[id] = true
				e.UserIDs = append(e.UserIDs, id)
			}
		}
		return nil
	}
	for _, src := range []map[string]any{m, data} {
		if src == nil {
			continue
		}
		id, err := stringField(src, "userId")
		if err != nil {
			return e, err
		}
		list, err := stringsField(src, "userIds")
		if err != nil {
			return e, err
		}
		if err := add(id); err != nil {
			return e, err
		}
		if err := add(list...); err != nil {
			return e, err
		}
	}
	if data != nil {
		more, err := dataUsers(data)
		if err != nil {
			return e, err
		}
		if err := add(more...); err != nil {
			return e, err
		}
	}
	return e, nil
}

// roleNames reads the role a role event names, where Descope documents no
// shape: data.roleName | data.role.name | data.roleNames. A
// permission event's permission is not a role: the refresh finds the roles
// it changed, so none is named.
func roleNames(data map[string]any) ([]string, error) {
	if data == nil {
		return nil, nil
	}
	var out []string
	name, err := stringField(data, "roleName")
	if err != nil {
		return nil, err
	}
	if name != "" {
		out = append(out, name)
	}
	if role, err := objectField(data, "role"); err != nil {
		return nil, err
	} else if role != nil {
		n, err := stringField(role, "name")
		if err != nil {
			return nil, err
		}
		if n != "" {
			out = append(out, n)
		}
	}
	list, err := stringsField(data, "roleNames")
	if err != nil {
		return nil, err
	}
	return append(out, list...), nil
}

// dataUsers reads data.users (IDs or user objects) and data.user.
func dataUsers(data map[string]any) ([]string, error) {
	var ids []string
	if v, ok := data["users"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return nil, wrongType("data.users", "a list")
		}
		for _, e := range list {
			switch u := e.(type) {
			case string:
				ids = append(ids, u)
			case map[string]any:
				id, err := stringField(u, "userId")
				if err != nil {
					return nil, err
				}
				ids = append(ids, id)
			default:
				return nil, wrongType("data.users entry", "a user ID or object")
			}
		}
	}
	user, err := objectField(data, "user")
	if err != nil {
		return nil, err
	}
	if user != nil {
		id, err := stringField(user, "userId")
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}
