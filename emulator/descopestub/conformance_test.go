package descopestub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/descope/go-sdk/descope"
	"github.com/descope/go-sdk/descope/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
)

// The stand-in must speak exactly what Descope's SDK speaks: every answer
// decodes into the SDK's own types with no unknown or mistyped field, and
// the SDK's own management client reads it back whole.

const conformanceProject = "Pconformance"

func conformanceStub(t *testing.T) (*descopestub.Stub, *httptest.Server) {
	t.Helper()
	stub, err := descopestub.New(descopestub.Options{ProjectID: conformanceProject, ManagementKey: "mk", KeyBits: 1024})
	require.NoError(t, err)
	ts := httptest.NewServer(stub.Handler())
	t.Cleanup(ts.Close)
	stub.PutRole(descope.Role{Name: "editor", Description: "edits", PermissionNames: []string{"docs.write"}})
	stub.PutRole(descope.Role{Name: "tadmin", TenantID: "T1", PermissionNames: []string{"tenant.manage"}})
	for _, id := range []string{"U1", "U2", "U3"} {
		stub.PutUser(descope.UserResponse{
			User:   descope.User{Name: "User " + id, Email: strings.ToLower(id) + "@example.com", GivenName: "G"},
			UserID: id, LoginIDs: []string{strings.ToLower(id) + "@example.com"}, VerifiedEmail: true,
			RoleNames: []string{"editor"}, Status: "enabled",
			UserTenants:      []*descope.AssociatedTenant{{TenantID: "T1", TenantName: "Acme", Roles: []string{"tadmin"}}},
			CustomAttributes: map[string]any{"plan": "pro"},
			CreatedTime:      1700000000, OAuth: map[string]bool{"google": true},
		})
	}
	return stub, ts
}

// call does what the SDK's HTTP client does for a management route.
func call(t *testing.T, method, url string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+conformanceProject+":mk")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// strict decodes b into v, refusing any field v's type does not declare and
// any value of the wrong type: the check the SDK's own decoder does not do.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// The wrappers are the SDK's own response envelopes (go-sdk
// internal/mgmt: unmarshalUserResponse, unmarshalUserSearchAllResponse,
// unmarshalRolesLoadAllResponse), with the SDK's element types.
type (
	userEnvelope struct {
		User *descope.UserResponse `json:"user"`
	}
	searchEnvelope struct {
		Users []*descope.UserResponse `json:"users"`
		Total int                     `json:"total"`
	}
	rolesEnvelope struct {
		Roles []*descope.Role `json:"roles"`
	}
	// auditRecord is the SDK's apiAuditRecord (go-sdk internal/mgmt/audit.go,
	// unexported), the audit record's wire shape.
	auditRecord struct {
		ProjectID     string         `json:"projectId,omitempty"`
		UserID        string         `json:"userId,omitempty"`
		Action        string         `json:"action,omitempty"`
		Type          string         `json:"type,omitempty"`
		ActorID       string         `json:"actorId,omitempty"`
		Occurred      string         `json:"occurred,omitempty"`
		Device        string         `json:"device,omitempty"`
		Method        string         `json:"method,omitempty"`
		Geo           string         `json:"geo,omitempty"`
		RemoteAddress string         `json:"remoteAddress,omitempty"`
		ExternalIDs   []string       `json:"externalIds,omitempty"`
		Tenants       []string       //nolint:tagliatelle // as the SDK declares it
		Data          map[string]any `json:"data,omitempty"`
	}
)

func TestStandInAnswersDecodeIntoTheSDKsTypes(t *testing.T) {
	_, ts := conformanceStub(t)
	t.Run("GET /v1/mgmt/user?loginId= answers a descope.UserResponse", func(t *testing.T) {
		status, b := call(t, http.MethodGet, ts.URL+"/v1/mgmt/user?loginId=u1@example.com&userId=", nil)
		require.Equal(t, 200, status)
		var env userEnvelope
		require.NoError(t, strict(b, &env), "%s", b)
		assert.Equal(t, "U1", env.User.UserID)
		assert.Equal(t, []string{"tadmin"}, env.User.UserTenants[0].Roles)
	})
	t.Run("POST /v2/mgmt/user/search pages with limit and page", func(t *testing.T) {
		var seen []string
		for page := 0; ; page++ {
			status, b := call(t, http.MethodPost, ts.URL+"/v2/mgmt/user/search", map[string]any{"limit": 2, "page": page})
			require.Equal(t, 200, status)
			var env searchEnvelope
			require.NoError(t, strict(b, &env), "%s", b)
			assert.Equal(t, 3, env.Total)
			if len(env.Users) == 0 {
				break
			}
			for _, u := range env.Users {
				seen = append(seen, u.UserID)
			}
		}
		assert.Equal(t, []string{"U1", "U2", "U3"}, seen)
	})
	t.Run("GET /v1/mgmt/role/all answers descope.Role values", func(t *testing.T) {
		status, b := call(t, http.MethodGet, ts.URL+"/v1/mgmt/role/all", nil)
		require.Equal(t, 200, status)
		var env rolesEnvelope
		require.NoError(t, strict(b, &env), "%s", b)
		require.Len(t, env.Roles, 2)
		assert.Equal(t, "T1", env.Roles[1].TenantID)
	})
	t.Run("a missing user is Descope's E112102 in descope.Error's shape", func(t *testing.T) {
		status, b := call(t, http.MethodGet, ts.URL+"/v1/mgmt/user?loginId=nobody&userId=", nil)
		assert.Equal(t, 400, status)
		var e descope.Error
		require.NoError(t, strict(b, &e), "%s", b)
		assert.Equal(t, "E112102", e.Code)
	})
	t.Run("an audit delivery's records have the SDK's audit-record fields only", func(t *testing.T) {
		stub, _ := conformanceStub(t)
		b, err := stub.AuditDelivery(descopestub.AuditEvent{Action: "UserModified", UserID: "U1", LoginIDs: []string{"u1@example.com"},
			Tenants: []string{"T1"}, Data: map[string]any{"userId": "U1"}})
		require.NoError(t, err)
		var recs []auditRecord
		require.NoError(t, strict(b, &recs), "%s", b)
		require.Len(t, recs, 1)
		assert.Regexp(t, `^\d{13}$`, recs[0].Occurred, "occurred is a string of Unix milliseconds")
		assert.Equal(t, []string{"u1@example.com"}, recs[0].ExternalIDs)
	})
}

// The check above is not vacuous: a stand-in that spelt one field its own
// way would fail it.
func TestConformanceCheckFailsOnARenamedField(t *testing.T) {
	_, ts := conformanceStub(t)
	_, b := call(t, http.MethodGet, ts.URL+"/v1/mgmt/user?loginId=u1@example.com", nil)
	for _, rename := range [][2]string{{`"roleNames"`, `"roles"`}, {`"userTenants"`, `"tenants"`}, {`"verifiedEmail"`, `"emailVerified"`}} {
		require.Contains(t, string(b), rename[0])
		renamed := strings.Replace(string(b), rename[0], rename[1], 1)
		var env userEnvelope
		assert.Error(t, strict([]byte(renamed), &env), "renaming %s to %s must fail the check", rename[0], rename[1])
	}
	mistyped := strings.Replace(string(b), `"createdTime":1700000000`, `"createdTime":"1700000000"`, 1)
	require.NotEqual(t, string(b), mistyped)
	var env userEnvelope
	assert.Error(t, strict([]byte(mistyped), &env), "a mistyped field fails the check")
}

// The SDK's own management client reads the stand-in's answers whole.
func TestSDKManagementClientReadsTheStandIn(t *testing.T) {
	_, ts := conformanceStub(t)
	c, err := client.NewWithConfig(&client.Config{ProjectID: conformanceProject, ManagementKey: "mk", DescopeBaseURL: ts.URL})
	require.NoError(t, err)
	ctx := context.Background()

	u, err := c.Management.User().Load(ctx, "u2@example.com")
	require.NoError(t, err)
	assert.Equal(t, "U2", u.UserID)
	assert.Equal(t, "Acme", u.UserTenants[0].TenantName)

	_, err = c.Management.User().Load(ctx, "nobody")
	assert.ErrorIs(t, err, descope.ErrManagementUserNotFound)

	users, total, err := c.Management.User().SearchAll(ctx, &descope.UserSearchOptions{Limit: 2, Page: 1})
	require.NoError(t, err)
	assert.Equal(t, 3, total)
	require.Len(t, users, 1)
	assert.Equal(t, "U3", users[0].UserID)

	byRole, total, err := c.Management.User().SearchAll(ctx, &descope.UserSearchOptions{Roles: []string{"tadmin"}})
	require.NoError(t, err)
	assert.Equal(t, 3, total, "a tenant role finds its holders")
	assert.Len(t, byRole, 3)

	roles, err := c.Management.Role().LoadAll(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"docs.write"}, roles[0].PermissionNames)
}
