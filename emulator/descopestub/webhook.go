package descopestub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// WebhookSignatureHeader is where Descope's connectors put the HMAC of the
// body when the connector has an HMAC secret.
const WebhookSignatureHeader = "x-descope-webhook-s256"

// AuditEvent is one audit record as Descope's audit webhook connector
// streams it. Descope documents the event names, not the connector's wire
// format; the record is built with the field names of the SDK's own audit
// record (go-sdk internal/mgmt apiAuditRecord, what the management API's
// audit search answers): "occurred" is a string of Unix milliseconds and
// login IDs are "externalIds". docs/webhooks.md says what is assumed.
type AuditEvent struct {
	Action        string
	UserID        string
	LoginIDs      []string
	ActorID       string
	Tenants       []string
	Data          map[string]any
	Type          string
	Method        string
	RemoteAddress string
	Occurred      time.Time
}

// AuditDelivery encodes events as one audit webhook delivery: a JSON array
// of audit records of this project.
func (s *Stub) AuditDelivery(events ...AuditEvent) ([]byte, error) {
	out := make([]map[string]any, 0, len(events))
	for _, e := range events {
		occurred := e.Occurred
		if occurred.IsZero() {
			occurred = now()
		}
		typ := e.Type
		if typ == "" {
			typ = "info"
		}
		rec := map[string]any{
			"projectId":     s.opts.ProjectID,
			"action":        e.Action,
			"type":          typ,
			"occurred":      strconv.FormatInt(occurred.UnixMilli(), 10),
			"device":        "Bot",
			"geo":           "IL",
			"remoteAddress": "127.0.0.1",
		}
		if e.UserID != "" {
			rec["userId"] = e.UserID
		}
		if e.ActorID != "" {
			rec["actorId"] = e.ActorID
		}
		if len(e.LoginIDs) > 0 {
			rec["externalIds"] = e.LoginIDs
		}
		if len(e.Tenants) > 0 {
			rec["tenants"] = e.Tenants
		}
		if e.Data != nil {
			rec["data"] = e.Data
		}
		if e.Method != "" {
			rec["method"] = e.Method
		}
		if e.RemoteAddress != "" {
			rec["remoteAddress"] = e.RemoteAddress
		}
		out = append(out, rec)
	}
	return json.Marshal(out)
}

// ConnectorBody is what the Generic HTTP Token connector posts at the end of
// a flow for a stored user: the user's information, under "user", in the
// shape of Descope's user record (userId, loginIds, email, verifiedEmail,
// name, roleNames, userTenants, customAttributes, status).
func (s *Stub) ConnectorBody(userID string) ([]byte, error) {
	u, ok := s.User(userID)
	if !ok {
		return nil, fmt.Errorf("descopestub: no user %q", userID)
	}
	return json.Marshal(map[string]any{"user": u})
}

// Deliver signs body with hmacSecret as Descope's connectors do (base64
// HMAC-SHA256 in x-descope-webhook-s256) and POSTs it to url. An empty
// secret sends no signature. header adds or overrides request headers (a
// bearer secret, a forged signature).
func Deliver(ctx context.Context, url, hmacSecret string, body []byte, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "descope-connector")
	if hmacSecret != "" {
		req.Header.Set(WebhookSignatureHeader, WebhookSignature(hmacSecret, body))
	}
	for k, vs := range header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return http.DefaultClient.Do(req)
}
