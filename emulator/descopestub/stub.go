// Package descopestub is a local stand-in for Descope's cloud, so the bridge
// runs and is tested with no Descope account. It speaks Descope's real
// protocol for the parts the bridge uses: the project key set at
// /v2/keys/{projectId}, RS256 session and refresh JWTs with Descope's claims,
// the management user-load and role-list routes, and signed webhook deliveries
// (audit events and the Generic HTTP Token connector call).
package descopestub

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/descope/go-sdk/descope"
)

// Options configure a Stub.
type Options struct {
	ProjectID string
	// Issuer overrides the iss claim; default is the project ID.
	Issuer string
	// ManagementKey, when set, is required on management routes.
	ManagementKey string
	// DevSessions enables POST /dev/session, which mints a session for any
	// user it is asked for. Only the local stack turns it on.
	DevSessions bool
	// DevAllowedOrigins are the browser origins allowed to call /dev/session.
	DevAllowedOrigins []string
	// KeyBits is the RSA key size; default 2048.
	KeyBits int
}

// Key is one signing key of the project.
type Key struct {
	ID      string
	Private *rsa.PrivateKey
}

// Stub is the Descope stand-in. Its zero value is not usable; call New.
type Stub struct {
	opts Options

	mu        sync.RWMutex
	keys      []*Key // published, newest last
	signing   *Key
	users     map[string]*descope.UserResponse
	roles     []descope.Role
	keysFault func(w http.ResponseWriter) bool

	keyRequests atomic.Int64
	searches    atomic.Int64

	oidc oidcState
}

// Searches counts user-search requests answered.
func (s *Stub) Searches() int64 { return s.searches.Load() }

// New creates a stand-in with one fresh signing key.
func New(opts Options) (*Stub, error) {
	if opts.ProjectID == "" {
		return nil, fmt.Errorf("descopestub: ProjectID is required")
	}
	if opts.KeyBits == 0 {
		opts.KeyBits = 2048
	}
	s := &Stub{opts: opts, users: map[string]*descope.UserResponse{}}
	if _, err := s.RotateKey(false); err != nil {
		return nil, err
	}
	return s, nil
}

// ProjectID returns the stand-in's project ID.
func (s *Stub) ProjectID() string { return s.opts.ProjectID }

// RotateKey adds a new signing key and signs with it from now on. With
// removeOld, earlier keys stop being published.
func (s *Stub) RotateKey(removeOld bool) (*Key, error) {
	pk, err := rsa.GenerateKey(rand.Reader, s.opts.KeyBits)
	if err != nil {
		return nil, fmt.Errorf("generating stub key: %w", err)
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	k := &Key{ID: "K" + strings.ToUpper(hex.EncodeToString(id)), Private: pk}
	s.mu.Lock()
	defer s.mu.Unlock()
	if removeOld {
		s.keys = nil
	}
	s.keys = append(s.keys, k)
	s.signing = k
	return k, nil
}

// SigningKey returns the key new tokens are signed with.
func (s *Stub) SigningKey() *Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.signing
}

// SetKeysFault makes the key endpoint misbehave: when f returns true it has
// written the response itself. Pass nil to restore normal service.
func (s *Stub) SetKeysFault(f func(w http.ResponseWriter) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keysFault = f
}

// KeyRequests counts requests that reached the key endpoint.
func (s *Stub) KeyRequests() int64 { return s.keyRequests.Load() }

// JWKS returns the published key set document.
func (s *Stub) JWKS() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	type jwk struct {
		Alg string `json:"alg"`
		E   string `json:"e"`
		Kid string `json:"kid"`
		Kty string `json:"kty"`
		N   string `json:"n"`
		Use string `json:"use"`
	}
	doc := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range s.keys {
		doc.Keys = append(doc.Keys, jwk{
			Alg: "RS256",
			E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.Private.E)).Bytes()),
			Kid: k.ID,
			Kty: "RSA",
			N:   base64.RawURLEncoding.EncodeToString(k.Private.N.Bytes()),
			Use: "sig",
		})
	}
	b, _ := json.Marshal(doc)
	return b
}

// PutUser stores or replaces a user for the management API.
func (s *Stub) PutUser(u descope.UserResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := u
	s.users[u.UserID] = &cp
}

// DeleteUser removes a user; later loads answer 400 "user not found" as
// Descope does.
func (s *Stub) DeleteUser(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, userID)
}

// UpdateUser changes a stored user in place, as an admin editing them in the
// console would; it reports whether the user exists.
func (s *Stub) UpdateUser(userID string, change func(u *descope.UserResponse)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if ok {
		change(u)
	}
	return ok
}

// DisableUser sets a user's status to "disabled", as Descope does when an
// admin disables them or too many logins fail.
func (s *Stub) DisableUser(userID string) bool {
	return s.UpdateUser(userID, func(u *descope.UserResponse) { u.Status = "disabled" })
}

// PutRole stores or replaces a role (by name and tenant) for the
// management API's role list.
func (s *Stub) PutRole(r descope.Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.roles {
		if s.roles[i].Name == r.Name && s.roles[i].TenantID == r.TenantID {
			s.roles[i] = r
			return
		}
	}
	s.roles = append(s.roles, r)
}

// User returns a copy of a stored user.
func (s *Stub) User(userID string) (descope.UserResponse, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[userID]
	if !ok {
		return descope.UserResponse{}, false
	}
	return *u, true
}

// WebhookSignature is the value of x-descope-webhook-s256 for body under
// secret: base64 of HMAC-SHA256 over the raw body bytes.
func WebhookSignature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// now is the stand-in's clock; tokens are minted relative to it.
func now() time.Time { return time.Now() }
