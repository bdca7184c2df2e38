package webhook

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/metrics"
)

// MaxExternalTokenBody caps a connector call. A user record with custom
// attributes is a few KB.
const MaxExternalTokenBody = 64 << 10

// maxUserIDBytes bounds a user ID read from a call; Descope's are ~30 bytes.
const maxUserIDBytes = 512

// eventExternalToken labels connector calls in the webhook metric.
const eventExternalToken = "external_token"

// ExternalTokenConfig configures the connector endpoint.
type ExternalTokenConfig struct {
	// ProjectID is the Descope project; sessions built from calls carry it.
	ProjectID string
	Secrets   Secrets
	// Exchanger maps the session Descope vouches for and mints its token
	// (ExchangeSession): the same mapping and policy as POST /exchange.
	Exchanger bridge.Exchanger
	// Access resolves the permissions the user's roles grant: Descope's
	// user record has roles and no permissions, so without it a permission
	// claim or gate would differ from /exchange.
	Access  bridge.AccessResolver
	Log     *slog.Logger
	Metrics *metrics.Metrics
	// Now is the clock sessions are stamped with; default time.Now.
	Now func() time.Time
	// Removed, when set, is told of a user a call says is disabled, for
	// RemovedTTL: their sessions are refused on /exchange too.
	Removed    bridge.RemovedUsers
	RemovedTTL time.Duration
	// Guard bounds unauthenticated calls' cost; shared with the audit
	// route. Nil: the default budget, no refusal limit.
	Guard *Guard
}

type externalTokenResponse struct {
	// Token is the field Descope's Generic HTTP Token connector reads.
	Token     string `json:"token"`
	UID       string `json:"uid"`
	ExpiresAt int64  `json:"expiresAt"`
}

// HandleExternalToken serves POST /webhook/external-token: Descope's Generic
// HTTP Token connector posts the user's information at the end of a flow,
// and the bridge answers {"token": "<Firebase custom token>"}, which Descope
// returns to the app as externalToken.
//
// Connector calls are not deduplicated: the same user signing in twice
// produces the same body, and both must work. A captured call could be
// replayed to mint another token for that user; HTTPS keeps it from being
// captured, and a user deleted or disabled since has a disabled Firebase
// account (see HandleAudit), so the token would not sign in.
func HandleExternalToken(c ExternalTokenConfig) http.Handler {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := externalToken(r, w, c, now())
		if err != nil {
			c.Metrics.WebhookEvent(eventExternalToken, string(bridge.CodeOf(err)))
			httpapi.WriteError(w, r, c.Log, err)
			return
		}
		c.Metrics.WebhookEvent(eventExternalToken, "ok")
		c.Log.LogAttrs(r.Context(), slog.LevelInfo, "external token",
			slog.String("code", "ok"), slog.String("uid", res.UID),
			slog.String("token_sha256", httpapi.TokenFingerprint(res.Token)))
		httpapi.WriteJSON(w, http.StatusOK, externalTokenResponse{
			Token: res.Token, UID: res.UID, ExpiresAt: res.ExpiresAt.Unix(),
		})
	})
}

func externalToken(r *http.Request, w http.ResponseWriter, c ExternalTokenConfig, at time.Time) (*bridge.Result, error) {
	body, release, err := c.Guard.read(w, r, MaxExternalTokenBody, c.Secrets)
	defer release() // the call is decoded into fresh values
	if err != nil {
		return nil, err
	}
	call, err := connectorUser(body)
	if err != nil {
		return nil, err
	}
	if call.user.Disabled() {
		if c.Removed != nil {
			if err := c.Removed.MarkRemoved(r.Context(), call.user.UserID, c.RemovedTTL); err != nil {
				c.Log.Warn("connector call for a disabled user could not be remembered", "error", err.Error())
			}
		}
		return nil, bridge.Errorf(bridge.CodeUserDisabled, "connector call for a disabled user")
	}
	s := call.session(c.ProjectID, at)
	if c.Access != nil {
		if err := c.Access.ResolveAccess(r.Context(), s); err != nil {
			return nil, err
		}
	}
	return c.Exchanger.ExchangeSession(r.Context(), s)
}

// connectorCall is what a connector call says: the user, and what it knows
// of the sign-in that just completed.
type connectorCall struct {
	user          *bridge.DescopeUser
	currentTenant string
	amr           []string
}

// session is the session the call stands for. Descope calls the connector
// at the end of a successful flow, so the user authenticated at: policy
// gates on session age see a fresh sign-in, and gates on authentication
// methods see only what the call says (amr), failing closed otherwise.
func (c *connectorCall) session(projectID string, at time.Time) *bridge.Session {
	s := c.user.Session(projectID)
	s.IssuedAt, s.AuthTime = at, at
	s.CurrentTenant = c.currentTenant
	s.AMR = c.amr
	s.FromConnector = true
	return s
}

// connectorUser reads the user a connector call is about. The user's
// information is the body itself or its "user" object; field names are
// those of Descope's user record, with the session-JWT names accepted too:
//
//	userId | sub                       the Descope user ID (required)
//	loginIds                           login IDs
//	email, verifiedEmail | email_verified
//	name
//	roleNames | roles                  project roles
//	permissions                        project permissions
//	userTenants [{tenantId, roleNames, permissions}]
//	  | tenants {tenantId: {roles, permissions}}
//	dct                                the current tenant
//	amr                                authentication methods
//	customAttributes {name: value}     passed to the mapping as claims
//	status                             "disabled" is refused
func connectorUser(body []byte) (*connectorCall, error) {
	v, err := decodeValue(body)
	if err != nil {
		return nil, err
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, bridge.Errorf(bridge.CodeBadRequest, "body is not a JSON object")
	}
	m := top
	if nested, err := objectField(top, "user"); err != nil {
		return nil, err
	} else if nested != nil {
		m = nested
	}

	u := &bridge.DescopeUser{}
	if u.UserID, err = stringField(m, "userId", "sub"); err != nil {
		return nil, err
	}
	if u.UserID == "" {
		return nil, bridge.Errorf(bridge.CodeBadRequest, "no user ID")
	}
	if len(u.UserID) > maxUserIDBytes {
		return nil, bridge.Errorf(bridge.CodeBadRequest, "user ID is %d bytes", len(u.UserID))
	}
	if u.LoginIDs, err = stringsField(m, "loginIds"); err != nil {
		return nil, err
	}
	if u.Email, err = stringField(m, "email"); err != nil {
		return nil, err
	}
	if u.EmailVerified, err = boolField(m, "verifiedEmail", "email_verified"); err != nil {
		return nil, err
	}
	if u.Name, err = stringField(m, "name"); err != nil {
		return nil, err
	}
	if u.Roles, err = stringsField(m, "roleNames", "roles"); err != nil {
		return nil, err
	}
	if u.Permissions, err = stringsField(m, "permissions"); err != nil {
		return nil, err
	}
	if u.Tenants, err = connectorTenants(m); err != nil {
		return nil, err
	}
	if u.CustomAttributes, err = objectField(m, "customAttributes"); err != nil {
		return nil, err
	}
	if u.Status, err = stringField(m, "status"); err != nil {
		return nil, err
	}
	call := &connectorCall{user: u}
	if call.currentTenant, err = stringField(m, "dct"); err != nil {
		return nil, err
	}
	if call.amr, err = stringsField(m, "amr"); err != nil {
		return nil, err
	}
	return call, nil
}

// connectorTenants reads Descope's userTenants list, or the tenants object
// of a session JWT.
func connectorTenants(m map[string]any) (map[string]bridge.TenantAccess, error) {
	out := map[string]bridge.TenantAccess{}
	if v, ok := m["userTenants"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return nil, wrongType("userTenants", "a list")
		}
		for _, e := range list {
			t, ok := e.(map[string]any)
			if !ok {
				return nil, wrongType("userTenants entry", "an object")
			}
			id, err := stringField(t, "tenantId")
			if err != nil {
				return nil, err
			}
			if id == "" {
				return nil, bridge.Errorf(bridge.CodeBadRequest, "userTenants entry has no tenantId")
			}
			if out[id], err = tenantAccess(t, "roleNames", "roles"); err != nil {
				return nil, err
			}
		}
	} else if tenants, err := objectField(m, "tenants"); err != nil {
		return nil, err
	} else {
		for id, tv := range tenants {
			t, ok := tv.(map[string]any)
			if !ok {
				return nil, wrongType("tenants entry", "an object")
			}
			if out[id], err = tenantAccess(t, "roles", "roleNames"); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func tenantAccess(t map[string]any, roleNames ...string) (bridge.TenantAccess, error) {
	var ta bridge.TenantAccess
	var err error
	if ta.Roles, err = stringsField(t, roleNames...); err != nil {
		return ta, err
	}
	ta.Permissions, err = stringsField(t, "permissions")
	return ta, err
}
