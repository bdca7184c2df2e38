package webhook

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/metrics"
)

// MaxAuditBody caps one audit delivery; a batch of audit records with their
// data is well under it.
const MaxAuditBody = 1 << 20

// Audit event names the bridge acts on (Descope's audit event reference).
const (
	actionUserDeleted      = "UserDeleted"
	actionUsersDeleted     = "UsersDeleted"
	actionUserModified     = "UserModified"
	actionUsersModified    = "UsersModified"
	actionLoginMaxAttempts = "LoginExceedMaxAttempts"
	// eventDelivery labels delivery-level outcomes in the webhook metric.
	eventDelivery = "audit_delivery"
	// eventOther labels every event the bridge does not act on, so the
	// metric's label set stays bounded whatever Descope sends.
	eventOther = "other"
)

// Lifecycle is what audit events turn into; bridge.Lifecycle implements it.
type Lifecycle interface {
	UserDeleted(ctx context.Context, userID string, loginIDs []string) (bridge.Outcome, error)
	UserModified(ctx context.Context, userID string, loginIDs []string, revoke bool) (bridge.Outcome, error)
}

// AuditConfig configures the audit endpoint.
type AuditConfig struct {
	// ProjectID is the Descope project; events naming another are ignored.
	ProjectID string
	Secrets   Secrets
	Lifecycle Lifecycle
	// RevokeOnMaxAttempts revokes a user's Firebase sessions on
	// LoginExceedMaxAttempts, beside re-reading the user.
	RevokeOnMaxAttempts bool
	// DedupeSize and DedupeWindow bound the memory of handled deliveries.
	DedupeSize   int
	DedupeWindow time.Duration
	// Concurrency bounds the Firebase and Descope calls one delivery makes
	// at once; default 4.
	Concurrency int
	Log         *slog.Logger
	Metrics     *metrics.Metrics
}

// auditEvent is one audit record, reduced to what lifecycle sync needs.
type auditEvent struct {
	Action    string
	ProjectID string
	UserIDs   []string
	LoginIDs  []string
}

// op is one lifecycle operation a delivery asks for.
type op struct {
	action   string
	userID   string
	loginIDs []string
	delete   bool
	revoke   bool
}

type opResult struct {
	outcome bridge.Outcome
	err     error
}

type auditResponse struct {
	Status   string         `json:"status"`
	Events   int            `json:"events"`
	Outcomes map[string]int `json:"outcomes,omitempty"`
}

// HandleAudit serves POST /webhook/audit: Descope's audit webhook connector
// streams audit events, and the bridge keeps Firebase accounts in step.
// UserDeleted(s) disable (or delete) the account and revoke its refresh
// tokens; UserModified(s) re-read the user and sync status, email, name and
// persistent claims; LoginExceedMaxAttempts re-reads and, by config,
// revokes. Other events are answered 202 and counted.
//
// Statuses: 200 processed (or a repeat of a delivery already processed),
// 202 nothing to act on, 400 malformed, 401 bad credentials, 413 too large,
// 502 a Descope or Firebase failure Descope should retry. An event that no
// retry can fix (a user that maps to no valid UID, say) is logged at Error
// and does not fail the delivery, so it cannot block the ones behind it.
func HandleAudit(c AuditConfig) http.Handler {
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	seen := newDeliveries(c.DedupeSize, c.DedupeWindow)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readAuthenticated(w, r, MaxAuditBody, c.Secrets)
		if err != nil {
			c.Metrics.WebhookEvent(eventDelivery, string(bridge.CodeOf(err)))
			httpapi.WriteError(w, r, c.Log, err)
			return
		}
		sum := sha256.Sum256(body)
		if seen.handled(sum) {
			c.Metrics.WebhookEvent(eventDelivery, "duplicate")
			c.Log.LogAttrs(r.Context(), slog.LevelInfo, "audit delivery already handled",
				slog.String("delivery_sha256", httpapi.TokenFingerprint(string(body))))
			httpapi.WriteJSON(w, http.StatusOK, auditResponse{Status: "duplicate"})
			return
		}
		events, err := parseAuditDelivery(body)
		if err != nil {
			c.Metrics.WebhookEvent(eventDelivery, string(bridge.CodeOf(err)))
			httpapi.WriteError(w, r, c.Log, err)
			return
		}
		ops := c.plan(r.Context(), events)
		if len(ops) == 0 {
			seen.remember(sum)
			httpapi.WriteJSON(w, http.StatusAccepted, auditResponse{Status: "ignored", Events: len(events)})
			return
		}
		outcomes, err := c.run(r.Context(), ops)
		if err != nil {
			c.Metrics.WebhookEvent(eventDelivery, "retry")
			httpapi.WriteError(w, r, c.Log, err)
			return
		}
		seen.remember(sum)
		c.Metrics.WebhookEvent(eventDelivery, "ok")
		httpapi.WriteJSON(w, http.StatusOK, auditResponse{Status: "processed", Events: len(events), Outcomes: outcomes})
	})
}

// plan turns events into operations, one per (kind, user), in order, and
// counts the events it ignores.
func (c AuditConfig) plan(ctx context.Context, events []auditEvent) []op {
	var ops []op
	type key struct {
		userID string
		delete bool
	}
	planned := map[key]int{}
	for _, e := range events {
		o := op{action: e.Action}
		switch e.Action {
		case actionUserDeleted, actionUsersDeleted:
			o.delete = true
		case actionUserModified, actionUsersModified:
		case actionLoginMaxAttempts:
			o.revoke = c.RevokeOnMaxAttempts
		default:
			c.Metrics.WebhookEvent(eventOther, "ignored")
			continue
		}
		if e.ProjectID != "" && e.ProjectID != c.ProjectID {
			c.Metrics.WebhookEvent(e.Action, "other_project")
			c.Log.LogAttrs(ctx, slog.LevelWarn, "audit event for another project ignored",
				slog.String("action", e.Action), slog.String("project", e.ProjectID))
			continue
		}
		if len(e.UserIDs) == 0 {
			c.Metrics.WebhookEvent(e.Action, "no_user_id")
			c.Log.LogAttrs(ctx, slog.LevelWarn, "audit event names no user; ignored", slog.String("action", e.Action))
			continue
		}
		for _, id := range e.UserIDs {
			k := key{id, o.delete}
			if i, dup := planned[k]; dup {
				ops[i].revoke = ops[i].revoke || o.revoke
				continue
			}
			o.userID = id
			o.loginIDs = e.LoginIDs
			planned[k] = len(ops)
			ops = append(ops, o)
		}
	}
	return ops
}

// run performs ops, a few at a time. It returns the count of each outcome,
// or the first failure Descope should retry.
func (c AuditConfig) run(ctx context.Context, ops []op) (map[string]int, error) {
	results := make([]opResult, len(ops))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.Concurrency)
	for i, o := range ops {
		g.Go(func() error {
			var res opResult
			if o.delete {
				res.outcome, res.err = c.Lifecycle.UserDeleted(gctx, o.userID, o.loginIDs)
			} else {
				res.outcome, res.err = c.Lifecycle.UserModified(gctx, o.userID, o.loginIDs, o.revoke)
			}
			results[i] = res
			if retryable(res.err) {
				return res.err
			}
			return nil
		})
	}
	failed := g.Wait()

	outcomes := map[string]int{}
	for i, res := range results {
		o := ops[i]
		attrs := []slog.Attr{slog.String("action", o.action), slog.String("user_id", o.userID)}
		switch {
		case res.err == nil && res.outcome == "":
			// Not run: an earlier operation failed and cancelled the rest.
			continue
		case res.err == nil:
			outcomes[string(res.outcome)]++
			c.Metrics.WebhookEvent(o.action, string(res.outcome))
			c.Log.LogAttrs(ctx, slog.LevelInfo, "audit event applied", append(attrs, slog.String("outcome", string(res.outcome)))...)
		case retryable(res.err):
			c.Metrics.WebhookEvent(o.action, "retry")
			c.Log.LogAttrs(ctx, slog.LevelError, "audit event failed; Descope should retry",
				append(attrs, slog.String("error", res.err.Error()))...)
		default:
			outcomes["failed"]++
			c.Metrics.WebhookEvent(o.action, "failed")
			c.Log.LogAttrs(ctx, slog.LevelError, "audit event cannot be applied",
				append(attrs, slog.String("code", string(bridge.CodeOf(res.err))), slog.String("error", res.err.Error()))...)
		}
	}
	if failed != nil {
		return nil, bridge.Wrap(bridge.CodeUpstream, failed, "applying audit events")
	}
	return outcomes, nil
}

// retryable reports whether err is a failure a later try may not meet:
// ours or upstream (a 5xx code), or a cancelled call.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	return httpapi.StatusOf(bridge.CodeOf(err)) >= 500
}

// parseAuditDelivery reads a delivery: a JSON array of audit records (what
// Descope's connector sends), a single record, or an object holding the
// array under "events" or "audits". Each record must be an object with a
// string "action"; the user it is about is read from
//
//	userId | userIds                       on the record
//	data.userId | data.userIds             in its data (batch events)
//	data.users [id | {userId}]  data.user.userId
//
// and its login IDs from loginIds (or externalIds, the audit search name).
func parseAuditDelivery(body []byte) ([]auditEvent, error) {
	v, err := decodeValue(body)
	if err != nil {
		return nil, err
	}
	var records []any
	switch t := v.(type) {
	case []any:
		records = t
	case map[string]any:
		if _, isEvent := t["action"]; isEvent {
			records = []any{t}
			break
		}
		name, list, ok := firstPresent(t, "events", "audits")
		if !ok {
			return nil, bridge.Errorf(bridge.CodeBadRequest, "body is neither an audit record nor a list of them")
		}
		if records, ok = list.([]any); !ok {
			return nil, wrongType(name, "a list")
		}
	default:
		return nil, bridge.Errorf(bridge.CodeBadRequest, "body is neither an audit record nor a list of them")
	}
	events := make([]auditEvent, 0, len(records))
	for _, rec := range records {
		m, ok := rec.(map[string]any)
		if !ok {
			return nil, wrongType("audit record", "an object")
		}
		e, err := readAuditEvent(m)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}

func readAuditEvent(m map[string]any) (auditEvent, error) {
	var e auditEvent
	var err error
	if e.Action, err = stringField(m, "action"); err != nil {
		return e, err
	}
	if e.Action == "" {
		return e, bridge.Errorf(bridge.CodeBadRequest, "audit record has no action")
	}
	if e.ProjectID, err = stringField(m, "projectId"); err != nil {
		return e, err
	}
	if e.LoginIDs, err = stringsField(m, "loginIds", "externalIds"); err != nil {
		return e, err
	}
	var ids []string
	add := func(more ...string) error {
		for _, id := range more {
			if len(id) > maxUserIDBytes {
				return bridge.Errorf(bridge.CodeBadRequest, "user ID is %d bytes", len(id))
			}
			if id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		return nil
	}
	data, err := objectField(m, "data")
	if err != nil {
		return e, err
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
		if err := add(append([]string{id}, list...)...); err != nil {
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
	e.UserIDs = ids
	return e, nil
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
