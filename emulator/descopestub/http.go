package descopestub

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/descope/go-sdk/descope"
)

// Handler serves the stand-in's routes.
func (s *Stub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/keys/{projectId}", s.serveKeys)
	mux.HandleFunc("GET /v1/mgmt/user", s.serveUserLoad)
	mux.HandleFunc("GET /v1/mgmt/role/all", s.serveRoles)
	mux.HandleFunc("POST /v2/mgmt/user/search", s.serveUserSearch)
	mux.HandleFunc("/dev/session", s.serveDevSession)
	mux.HandleFunc("/dev/refresh", s.serveDevRefresh)
	mux.HandleFunc("/dev/user", s.serveDevUser)
	s.oidcRoutes(mux)
	return mux
}

func (s *Stub) serveKeys(w http.ResponseWriter, r *http.Request) {
	s.keyRequests.Add(1)
	s.mu.RLock()
	fault := s.keysFault
	s.mu.RUnlock()
	if fault != nil && fault(w) {
		return
	}
	if r.PathValue("projectId") != s.opts.ProjectID {
		writeError(w, http.StatusBadRequest, "E011003", "Project does not exist")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.JWKS())
}

// authorized checks Descope's management bearer: "projectId:managementKey".
func (s *Stub) authorized(r *http.Request) bool {
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	pid, key, _ := strings.Cut(bearer, ":")
	if pid != s.opts.ProjectID {
		return false
	}
	return s.opts.ManagementKey == "" || key == s.opts.ManagementKey
}

func (s *Stub) serveUserLoad(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "E061102", "Unauthorized")
		return
	}
	q := r.URL.Query()
	userID, loginID := q.Get("userId"), q.Get("loginId")
	s.mu.RLock()
	var found *descope.UserResponse
	for _, u := range s.users {
		if (userID != "" && u.UserID == userID) || (loginID != "" && (slices.Contains(u.LoginIDs, loginID) || u.UserID == loginID)) {
			cp := *u
			found = &cp
			break
		}
	}
	s.mu.RUnlock()
	if found == nil {
		writeError(w, http.StatusBadRequest, "E112102", "User not found")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"user": found})
}

// searchRequest is the body the SDK's User().SearchAll sends (go-sdk
// internal/mgmt makeSearchAllRequest); the filters lifecycle sync and
// reconcile use are honoured, the rest accepted and ignored.
type searchRequest struct {
	TenantIDs []string `json:"tenantIds"`
	RoleNames []string `json:"roleNames"`
	Limit     int32    `json:"limit"`
	Page      int32    `json:"page"`
	LoginIDs  []string `json:"loginIds"`
	Statuses  []string `json:"statuses"`
	UserIDs   []string `json:"userIds"`
	Emails    []string `json:"emails"`
}

// serveUserSearch answers POST /v2/mgmt/user/search: {"users": [...],
// "total": n}, users in user-ID order, paged by limit (default 100) and a
// zero-based page, as Descope pages them.
func (s *Stub) serveUserSearch(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "E061102", "Unauthorized")
		return
	}
	var req searchRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Limit < 0 || req.Page < 0 {
		writeError(w, http.StatusBadRequest, "E011001", "Bad request")
		return
	}
	if req.Limit == 0 {
		req.Limit = 100
	}
	s.searches.Add(1)
	s.mu.RLock()
	var match []*descope.UserResponse
	for _, u := range s.users {
		if req.matches(u) {
			cp := *u
			match = append(match, &cp)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(match, func(a, b *descope.UserResponse) int { return strings.Compare(a.UserID, b.UserID) })
	total := len(match)
	from := min(int(req.Page)*int(req.Limit), total)
	to := min(from+int(req.Limit), total)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"users": match[from:to], "total": total})
}

func (q *searchRequest) matches(u *descope.UserResponse) bool {
	if len(q.UserIDs) > 0 && !slices.Contains(q.UserIDs, u.UserID) {
		return false
	}
	if len(q.Statuses) > 0 && !slices.Contains(q.Statuses, u.Status) {
		return false
	}
	if len(q.Emails) > 0 && !slices.Contains(q.Emails, u.Email) {
		return false
	}
	if len(q.LoginIDs) > 0 && !slices.ContainsFunc(u.LoginIDs, func(id string) bool { return slices.Contains(q.LoginIDs, id) }) {
		return false
	}
	if len(q.TenantIDs) > 0 && !slices.ContainsFunc(u.UserTenants, func(t *descope.AssociatedTenant) bool { return slices.Contains(q.TenantIDs, t.TenantID) }) {
		return false
	}
	if len(q.RoleNames) > 0 {
		has := func(names []string) bool {
			return slices.ContainsFunc(names, func(n string) bool { return slices.Contains(q.RoleNames, n) })
		}
		if !has(u.RoleNames) && !slices.ContainsFunc(u.UserTenants, func(t *descope.AssociatedTenant) bool { return has(t.Roles) }) {
			return false
		}
	}
	return true
}

func (s *Stub) serveRoles(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "E061102", "Unauthorized")
		return
	}
	s.mu.RLock()
	roles := append([]descope.Role{}, s.roles...)
	s.mu.RUnlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"roles": roles})
}

// serveDevSession mints a session for the user in the request body. It exists
// only so a browser test can sign in without Descope's hosted flows.
func (s *Stub) serveDevSession(w http.ResponseWriter, r *http.Request) {
	if !s.devPreamble(w, r) {
		return
	}
	var req struct {
		UserID        string                 `json:"userId"`
		Email         string                 `json:"email"`
		EmailVerified *bool                  `json:"emailVerified"`
		Roles         []string               `json:"roles"`
		Permissions   []string               `json:"permissions"`
		Tenants       map[string]TenantRoles `json:"tenants"`
		CurrentTenant string                 `json:"dct"`
		AMR           []string               `json:"amr"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.UserID == "" {
		writeError(w, http.StatusBadRequest, "E011001", "userId is required")
		return
	}
	sess := Session{UserID: req.UserID, Roles: req.Roles, Permissions: req.Permissions,
		Tenants: req.Tenants, CurrentTenant: req.CurrentTenant, AMR: req.AMR}
	verified := req.EmailVerified == nil || *req.EmailVerified
	if req.Email != "" {
		sess.Extra = map[string]any{"email": req.Email, "email_verified": verified}
	}
	// The user is kept, as Descope keeps a user who signed in: refreshes
	// read their roles from here, and /dev/user changes them.
	if _, ok := s.User(req.UserID); !ok {
		loginID := req.Email
		if loginID == "" {
			loginID = req.UserID
		}
		u := descope.UserResponse{User: descope.User{Email: req.Email}, UserID: req.UserID,
			LoginIDs: []string{loginID}, VerifiedEmail: req.Email != "" && verified, RoleNames: req.Roles, Status: "enabled"}
		for id, t := range req.Tenants {
			u.UserTenants = append(u.UserTenants, &descope.AssociatedTenant{TenantID: id, Roles: t.Roles})
		}
		s.PutUser(u)
	}
	s.writeSession(w, sess)
}

// devPreamble admits a dev request: dev mode on, an allowed origin (with
// CORS answered), POST. It has answered when it returns false.
func (s *Stub) devPreamble(w http.ResponseWriter, r *http.Request) bool {
	if !s.opts.DevSessions {
		http.NotFound(w, r)
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if !slices.Contains(s.opts.DevAllowedOrigins, origin) {
			writeError(w, http.StatusForbidden, "E000403", "Origin not allowed")
			return false
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Vary", "Origin")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Access-Control-Allow-Methods", "POST")
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "E000405", "Method not allowed")
		return false
	}
	return true
}

// serveDevRefresh stands in for Descope's session refresh: a new session
// for a user the stand-in keeps, with the roles it holds now. A disabled or
// deleted user gets 401, as Descope refuses their refresh.
func (s *Stub) serveDevRefresh(w http.ResponseWriter, r *http.Request) {
	if !s.devPreamble(w, r) {
		return
	}
	var req struct {
		UserID string `json:"userId"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.UserID == "" {
		writeError(w, http.StatusBadRequest, "E011001", "userId is required")
		return
	}
	u, ok := s.User(req.UserID)
	if !ok || u.Status == "disabled" {
		writeError(w, http.StatusUnauthorized, "E061102", "Unauthorized")
		return
	}
	sess := sessionOf(&u)
	if u.Email != "" {
		sess.Extra = map[string]any{"email": u.Email, "email_verified": u.VerifiedEmail}
	}
	s.writeSession(w, sess)
}

// sessionOf is the session Descope would issue for u now: its project
// roles and its tenants' roles.
func sessionOf(u *descope.UserResponse) Session {
	sess := Session{UserID: u.UserID, Roles: u.RoleNames}
	if len(u.UserTenants) > 0 {
		sess.Tenants = map[string]TenantRoles{}
		for _, t := range u.UserTenants {
			if t != nil {
				sess.Tenants[t.TenantID] = TenantRoles{Roles: t.Roles}
			}
		}
	}
	return sess
}

// serveDevUser changes a kept user as an admin would in the console: roles
// and status. It answers 404 for a user the stand-in does not keep.
func (s *Stub) serveDevUser(w http.ResponseWriter, r *http.Request) {
	if !s.devPreamble(w, r) {
		return
	}
	var req struct {
		UserID string    `json:"userId"`
		Roles  *[]string `json:"roles"`
		Status string    `json:"status"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.UserID == "" ||
		(req.Status != "" && req.Status != "enabled" && req.Status != "disabled") {
		writeError(w, http.StatusBadRequest, "E011001", "userId, and status enabled or disabled, are required")
		return
	}
	if !s.UpdateUser(req.UserID, func(u *descope.UserResponse) {
		if req.Roles != nil {
			u.RoleNames = *req.Roles
		}
		if req.Status != "" {
			u.Status = req.Status
		}
	}) {
		writeError(w, http.StatusNotFound, "E112102", "User not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Stub) writeSession(w http.ResponseWriter, sess Session) {
	session, err := s.MintSession(sess)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "E000500", "Minting failed")
		return
	}
	refresh, err := s.MintRefresh(sess)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "E000500", "Minting failed")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"sessionJwt": session, "refreshJwt": refresh})
}

// writeError answers in Descope's error shape.
func writeError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorCode": code, "errorDescription": desc})
}
