package descopestub

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Descope as an OpenID Connect provider, as its documentation describes it
// (docs.descope.com, "OIDC Endpoints"): authorize, token, userinfo, revoke
// and logout under /oauth2/v1, the project's discovery document and key
// set under /<project>/.well-known. The access token is the project's
// session token (drn DS) with aud, azp and scope; the stand-in has no
// login page, so authorize signs in the user named by login_hint at once,
// as a completed flow would.

// oidcState is what the OAuth endpoints remember.
type oidcState struct {
	mu      sync.Mutex
	codes   map[string]*authCode
	refresh map[string]*refreshGrant
}

type authCode struct {
	user, client, redirect, scope, nonce, challenge string
	expires                                         time.Time
}

type refreshGrant struct {
	user, client, scope string
	revoked             bool
}

func (s *Stub) oidcRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{projectId}/.well-known/openid-configuration", s.serveDiscovery)
	mux.HandleFunc("GET /{projectId}/.well-known/jwks.json", s.serveKeys)
	mux.HandleFunc("GET /oauth2/v1/authorize", s.serveAuthorize)
	mux.HandleFunc("POST /oauth2/v1/token", s.serveToken)
	mux.HandleFunc("GET /oauth2/v1/userinfo", s.serveUserinfo)
	mux.HandleFunc("POST /oauth2/v1/userinfo", s.serveUserinfo)
	mux.HandleFunc("POST /oauth2/v1/revoke", s.serveRevoke)
	mux.HandleFunc("GET /oauth2/v1/logout", s.serveLogout)
	mux.HandleFunc("POST /oauth2/v1/logout", s.serveLogout)
}

// base is the stand-in's own URL, as the client reached it.
func base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// Issuer is the OIDC issuer the stand-in announces for requests to base:
// Descope's form, the API's URL and the project ID.
func (s *Stub) Issuer(base string) string { return base + "/" + s.opts.ProjectID }

func (s *Stub) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("projectId") != s.opts.ProjectID {
		writeError(w, http.StatusNotFound, "E011003", "Project does not exist")
		return
	}
	b := base(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                b + "/" + s.opts.ProjectID,
		"authorization_endpoint":                b + "/oauth2/v1/authorize",
		"token_endpoint":                        b + "/oauth2/v1/token",
		"userinfo_endpoint":                     b + "/oauth2/v1/userinfo",
		"revocation_endpoint":                   b + "/oauth2/v1/revoke",
		"end_session_endpoint":                  b + "/oauth2/v1/logout",
		"jwks_uri":                              b + "/" + s.opts.ProjectID + "/.well-known/jwks.json",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":      []string{"S256"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "phone", "descope.claims", "descope.custom_claims"},
		"token_endpoint_auth_methods_supported": []string{"none", "client_secret_basic", "client_secret_post"},
		"claims_supported":                      []string{"iss", "aud", "sub", "exp", "iat", "nonce", "email", "email_verified", "name"},
	})
}

// oauthError answers in RFC 6749's error shape.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomToken(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (s *Stub) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	client, redirect := q.Get("client_id"), q.Get("redirect_uri")
	if client == "" || redirect == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "client_id and redirect_uri are required")
		return
	}
	back, err := url.Parse(redirect)
	if err != nil || back.Scheme == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "redirect_uri is not an absolute URL")
		return
	}
	fail := func(code, description string) {
		v := back.Query()
		v.Set("error", code)
		v.Set("error_description", description)
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only the authorization code flow")
		return
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "PKCE with code_challenge_method S256 is required")
		return
	}
	user := q.Get("login_hint") // the stand-in's flow signs this user in
	u, ok := s.User(user)
	if !ok || u.Status == "disabled" {
		fail("access_denied", "no enabled user "+user)
		return
	}
	code := randomToken("C")
	s.oidc.mu.Lock()
	if s.oidc.codes == nil {
		s.oidc.codes, s.oidc.refresh = map[string]*authCode{}, map[string]*refreshGrant{}
	}
	s.oidc.codes[code] = &authCode{user: u.UserID, client: client, redirect: redirect, scope: q.Get("scope"),
		nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), expires: now().Add(time.Minute)}
	s.oidc.mu.Unlock()
	v := back.Query()
	v.Set("code", code)
	if st := q.Get("state"); st != "" {
		v.Set("state", st)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (s *Stub) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be form-encoded")
		return
	}
	client := r.PostForm.Get("client_id")
	if id, _, ok := r.BasicAuth(); ok {
		client = id
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		s.oidc.mu.Lock()
		c := s.oidc.codes[r.PostForm.Get("code")]
		delete(s.oidc.codes, r.PostForm.Get("code")) // one use
		s.oidc.mu.Unlock()
		switch {
		case c == nil || now().After(c.expires):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
			return
		case c.client != client || c.redirect != r.PostForm.Get("redirect_uri"):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "client_id or redirect_uri differ from the authorization request")
			return
		case pkceChallenge(r.PostForm.Get("code_verifier")) != c.challenge:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
			return
		}
		refresh := randomToken("R")
		s.oidc.mu.Lock()
		s.oidc.refresh[refresh] = &refreshGrant{user: c.user, client: c.client, scope: c.scope}
		s.oidc.mu.Unlock()
		s.writeTokens(w, r, c.user, c.client, c.scope, c.nonce, refresh)
	case "refresh_token":
		s.oidc.mu.Lock()
		g := s.oidc.refresh[r.PostForm.Get("refresh_token")]
		s.oidc.mu.Unlock()
		if g == nil || g.revoked || g.client != client {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or revoked refresh token")
			return
		}
		if u, ok := s.User(g.user); !ok || u.Status == "disabled" {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the user is gone or disabled")
			return
		}
		s.writeTokens(w, r, g.user, g.client, g.scope, "", r.PostForm.Get("refresh_token"))
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "authorization_code or refresh_token")
	}
}

func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// writeTokens answers a token request: the session token as the access
// token, an ID token, and the refresh token.
func (s *Stub) writeTokens(w http.ResponseWriter, r *http.Request, userID, client, scope, nonce, refresh string) {
	u, _ := s.User(userID)
	issuer := s.Issuer(base(r))
	sess := sessionOf(&u)
	sess.Extra = map[string]any{"iss": issuer, "aud": client, "azp": client, "scope": scope}
	access, err := s.MintSession(sess)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	iat := now().Unix()
	idClaims := map[string]any{"iss": issuer, "sub": u.UserID, "aud": client, "azp": client, "iat": iat, "exp": iat + 600,
		"email": u.Email, "email_verified": u.VerifiedEmail, "name": u.Name}
	if nonce != "" {
		idClaims["nonce"] = nonce
	}
	idToken, err := s.Sign(nil, idClaims)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "id_token": idToken, "refresh_token": refresh,
		"token_type": "Bearer", "expires_in": 600, "scope": scope})
}

// serveUserinfo answers for a valid access token of a user who exists.
func (s *Stub) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token", "no bearer access token")
		return
	}
	claims, err := verifyRS256(token, s.publicKeys())
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token", err.Error())
		return
	}
	sub, _ := claims["sub"].(string)
	u, ok := s.User(sub)
	if !ok || u.Status == "disabled" {
		oauthError(w, http.StatusUnauthorized, "invalid_token", "the user is gone or disabled")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sub": u.UserID, "email": u.Email, "email_verified": u.VerifiedEmail, "name": u.Name})
}

// serveRevoke revokes a refresh token (RFC 7009: unknown tokens are fine).
func (s *Stub) serveRevoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be form-encoded")
		return
	}
	s.oidc.mu.Lock()
	if g := s.oidc.refresh[r.PostForm.Get("token")]; g != nil {
		g.revoked = true
	}
	s.oidc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// serveLogout ends the user's sessions: every refresh token issued to the
// user named by id_token_hint is revoked.
func (s *Stub) serveLogout(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if hint := r.Form.Get("id_token_hint"); hint != "" {
		if claims, err := verifyRS256(hint, s.publicKeys()); err == nil {
			sub, _ := claims["sub"].(string)
			s.oidc.mu.Lock()
			for _, g := range s.oidc.refresh {
				if g.user == sub {
					g.revoked = true
				}
			}
			s.oidc.mu.Unlock()
		}
	}
	if next := r.Form.Get("post_logout_redirect_uri"); next != "" {
		http.Redirect(w, r, next, http.StatusFound)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// publicKeys are the published keys, by key ID.
func (s *Stub) publicKeys() map[string]*rsa.PublicKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]*rsa.PublicKey{}
	for _, k := range s.keys {
		out[k.ID] = &k.Private.PublicKey
	}
	return out
}

// verifyRS256 checks a JWT the stand-in signed, and that it has not
// expired, and returns its claims.
func verifyRS256(token string, keys map[string]*rsa.PublicKey) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &hdr) != nil || hdr.Alg != "RS256" {
		return nil, errors.New("not an RS256 JWT")
	}
	key := keys[hdr.Kid]
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if key == nil || err != nil {
		return nil, errors.New("unknown key")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) != nil {
		return nil, errors.New("bad signature")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err != nil || json.Unmarshal(pb, &claims) != nil {
		return nil, errors.New("bad payload")
	}
	if exp, ok := claims["exp"].(float64); !ok || now().Unix() >= int64(exp) {
		return nil, errors.New("expired")
	}
	return claims, nil
}
