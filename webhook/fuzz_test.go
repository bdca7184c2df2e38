package webhook

import (
	"log/slog"
	"testing"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
)

// The parsers read bytes Descope signed, but a leaked secret or a bug on
// either side makes them untrusted all the same: whatever they are given,
// they return a user or events, or a bad_request, and never panic.

func FuzzConnectorUser(f *testing.F) {
	for _, seed := range []string{
		`{"user":{"userId":"U1","loginIds":["a@example.com"],"email":"a@example.com","verifiedEmail":true,"roleNames":["admin"],"userTenants":[{"tenantId":"T1","roleNames":["owner"]}],"customAttributes":{"firebaseUid":"x"},"status":"enabled"}}`,
		`{"sub":"U1","roles":["r"],"tenants":{"T1":{"roles":["a"],"permissions":["p"]}},"dct":"T1","amr":["otp"]}`,
		`{"userId":"U1","status":"disabled"}`,
		`{"user":null,"userId":"U1"}`,
		`{"userId":1}`, `[]`, `null`, `{"user":{}}`, `{"userId":"U1"} x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		call, err := connectorUser(body)
		if err != nil {
			if code := bridge.CodeOf(err); code != bridge.CodeBadRequest {
				t.Fatalf("refusal with code %s, want bad_request", code)
			}
			return
		}
		if id := call.user.UserID; id == "" || len(id) > maxUserIDBytes {
			t.Fatalf("accepted a user ID of %d bytes", len(id))
		}
		if s := call.session("Pfuzz", time.Unix(1, 0)); s.UserID != call.user.UserID || s.AuthTime != time.Unix(1, 0) {
			t.Fatal("the session does not stand for the call")
		}
	})
}

func FuzzParseAuditDelivery(f *testing.F) {
	for _, seed := range []string{
		`[{"projectId":"P1","action":"UserDeleted","userId":"U1","loginIds":["a"],"occurred":1780949905843,"tenants":null,"data":{}}]`,
		`[{"action":"UsersDeleted","data":{"userIds":["U1","U2"],"users":["U3",{"userId":"U4"}],"user":{"userId":"U5"}}}]`,
		`{"action":"UserModified","userId":"U1","data":{"Change":{"roleNames":["a"]}}}`,
		`{"events":[{"action":"LoginExceedMaxAttempts","userId":"U1"}]}`,
		`{"audits":"x"}`, `[1]`, `[{"action":2}]`, `[]`, `"x"`, `[{"action":"UserDeleted","data":{"users":[1]}}]`,
	} {
		f.Add([]byte(seed))
	}
	c := AuditConfig{ProjectID: "P1", Log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, body []byte) {
		records, err := splitAuditDelivery(body)
		if err != nil {
			if code := bridge.CodeOf(err); code != bridge.CodeBadRequest {
				t.Fatalf("refusal with code %s, want bad_request", code)
			}
			return
		}
		for _, raw := range records {
			e, act, err := readAuditRecord(raw)
			if !act {
				if err != nil {
					t.Fatalf("an ignored record failed: %v", err)
				}
				continue
			}
			if err != nil {
				if code := bridge.CodeOf(err); code != bridge.CodeBadRequest {
					t.Fatalf("malformed record with code %s, want bad_request", code)
				}
				continue
			}
			if !actedOn(e.Action) {
				t.Fatalf("acted on %q", e.Action)
			}
			if e.key == "" {
				t.Fatal("an event with no dedupe key")
			}
			for _, id := range e.UserIDs {
				if id == "" || len(id) > maxUserIDBytes {
					t.Fatalf("accepted a user ID of %d bytes", len(id))
				}
			}
			for _, j := range c.jobs(t.Context(), e) {
				if j.Kind == bridge.JobUser && j.UserID == "" {
					t.Fatal("a user job with no user")
				}
			}
		}
	})
}
