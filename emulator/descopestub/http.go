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
	mux.HandleFunc("/dev/session", s.serveDevSession)
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
	if !s.opts.DevSessions {
		http.NotFound(w, r)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if !slices.Contains(s.opts.DevAllowedOrigins, origin) {
			writeError(w, http.StatusForbidden, "E000403", "Origin not allowed")
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Vary", "Origin")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Access-Control-Allow-Methods", "POST")
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "E000405", "Method not allowed")
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
	if req.Email != "" {
		verified := req.EmailVerified == nil || *req.EmailVerified
		sess.Extra = map[string]any{"email": req.Email, "email_verified": verified}
		if _, ok := s.User(req.UserID); !ok {
			s.PutUser(descope.UserResponse{User: descope.User{Email: req.Email}, UserID: req.UserID,
				LoginIDs: []string{req.Email}, VerifiedEmail: verified, RoleNames: req.Roles, Status: "enabled"})
		}
	}
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
