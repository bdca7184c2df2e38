// Package iamstub stands in for the two Google endpoints keyless signing
// uses on Cloud Run: the metadata server, which tells the service its
// account's email and hands it access tokens, and the IAM Credentials API's
// signBlob, which signs bytes as that account with a key only Google holds.
// Here the stand-in holds the key, so a test can verify what was signed with
// PublicKey; nothing reaches Google.
//
// It speaks the real wire formats: the metadata server's paths and
// Metadata-Flavor header (reached through GCE_METADATA_HOST, which Google's
// own libraries honour), and signBlob's JSON request, response and error
// shapes. signBlob accepts only access tokens this stand-in issued, and only
// for its own account, so a test proves the bridge authenticated as the
// service's identity.
package iamstub

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Host is the IAM Credentials API's host; the Admin SDK hardcodes it.
const Host = "iamcredentials.googleapis.com"

// Options configure a stand-in.
type Options struct {
	// Email is the service account the stand-in is the identity of.
	Email string
	// ProjectID is what the metadata server reports as the project.
	ProjectID string
	// Denied makes signBlob refuse with 403 PERMISSION_DENIED, as IAM does
	// when the account lacks roles/iam.serviceAccountTokenCreator on itself.
	Denied bool
	// Latency delays every signBlob answer, as a real IAM round trip does.
	Latency time.Duration
	// SignOnce answers every signBlob with one signature made at start,
	// whatever the payload: for the load benchmark, where the stand-in
	// shares the bridge's cores while real IAM signs on Google's machines.
	// The tokens it yields do not verify; never use it in a test that
	// checks them.
	SignOnce bool
}

// Fault decides the answer to signBlob call n (counted from 1): a status
// to answer instead of signing (0: sign), and a Retry-After value ("" for
// none). 429 is IAM's quota; 503 an outage.
type Fault func(n int) (status int, retryAfter string)

// Calls counts what the stand-in answered.
type Calls struct {
	// EmailLookups is metadata-server requests for the account's email.
	EmailLookups int
	// Tokens is access tokens issued by the metadata server.
	Tokens int
	// SignBlobs is successful signBlob calls.
	SignBlobs int
	// Refused is signBlob calls refused (bad token, wrong account, denied).
	Refused int
	// Faulted is signBlob calls answered by the Fault (429, 503, ...).
	Faulted int
}

// Stub is one service account's metadata server and signBlob endpoint.
type Stub struct {
	opts  Options
	key   *rsa.PrivateKey
	keyID string

	mu     sync.Mutex
	tokens map[string]time.Time // issued access token → expiry
	calls  Calls
	fault  Fault
	n      int

	once    sync.Once // SignOnce's signature
	onceSig []byte
	onceErr error
}

// SetFault makes signBlob answer as f says; nil signs every call.
func (s *Stub) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// New returns a stand-in with a fresh RSA-2048 key.
func New(opts Options) (*Stub, error) {
	if opts.Email == "" || opts.ProjectID == "" {
		return nil, errors.New("iamstub: Email and ProjectID are required")
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	id := make([]byte, 20)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("generating key id: %w", err)
	}
	return &Stub{opts: opts, key: k, keyID: hex.EncodeToString(id), tokens: map[string]time.Time{}}, nil
}

// Email is the account's email.
func (s *Stub) Email() string { return s.opts.Email }

// PublicKey is the public half of the key signBlob signs with: what Google
// publishes for the account and Firebase verifies custom tokens against.
func (s *Stub) PublicKey() *rsa.PublicKey { return &s.key.PublicKey }

// Calls returns the counts so far.
func (s *Stub) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Handler serves the metadata routes and signBlob.
func (s *Stub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /computeMetadata/v1/instance/service-accounts/{account}/email", s.metadata(s.serveEmail))
	mux.HandleFunc("GET /computeMetadata/v1/instance/service-accounts/{account}/token", s.metadata(s.serveToken))
	mux.HandleFunc("GET /computeMetadata/v1/project/project-id", s.metadata(s.serveText(s.opts.ProjectID)))
	mux.HandleFunc("GET /computeMetadata/v1/universe/universe-domain", s.metadata(s.serveText("googleapis.com")))
	mux.HandleFunc("POST /v1/projects/{project}/serviceAccounts/{call}", s.serveSignBlob)
	return mux
}

// metadata enforces the metadata server's header contract: requests must
// carry Metadata-Flavor: Google, and answers carry it back.
func (s *Stub) metadata(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Metadata-Flavor", "Google")
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "Missing Metadata-Flavor:Google header.", http.StatusForbidden)
			return
		}
		if a := r.PathValue("account"); a != "" && a != "default" && a != s.opts.Email {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}
}

func (s *Stub) serveText(v string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/text")
		_, _ = io.WriteString(w, v)
	}
}

func (s *Stub) serveEmail(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls.EmailLookups++
	s.mu.Unlock()
	s.serveText(s.opts.Email)(w, r)
}

func (s *Stub) serveToken(w http.ResponseWriter, _ *http.Request) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		http.Error(w, "no randomness", http.StatusInternalServerError)
		return
	}
	tok := "ya29.stub-" + base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(time.Hour)
	s.calls.Tokens++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok, "expires_in": 3599, "token_type": "Bearer",
	})
}

// serveSignBlob is projects.serviceAccounts.signBlob: RSASSA-PKCS1-v1_5 with
// SHA-256 over the payload, as IAM signs with a Google-managed key.
func (s *Stub) serveSignBlob(w http.ResponseWriter, r *http.Request) {
	account, ok := strings.CutSuffix(r.PathValue("call"), ":signBlob")
	if !ok || r.PathValue("project") != "-" {
		http.NotFound(w, r)
		return
	}
	if !s.validToken(r.Header.Get("Authorization")) {
		s.refuse(w, http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	if s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency)
	}
	s.mu.Lock()
	s.n++
	n, fault := s.n, s.fault
	s.mu.Unlock()
	if fault != nil {
		if status, retryAfter := fault(n); status != 0 {
			s.mu.Lock()
			s.calls.Faulted++
			s.mu.Unlock()
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			reason := map[int]string{429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}[status]
			w.Header().Set("Content-Type", "application/json; charset=UTF-8")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"error": map[string]any{"code": status, "message": "injected by the stand-in", "status": reason},
			})
			return
		}
	}
	if s.opts.Denied || account != s.opts.Email {
		// IAM does not say whether the account exists.
		s.refuse(w, http.StatusForbidden, "PERMISSION_DENIED",
			"Permission 'iam.serviceAccounts.signBlob' denied on resource (or it may not exist).")
		return
	}
	var req struct {
		Delegates []string `json:"delegates"`
		Payload   string   `json:"payload"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	payload, perr := base64.StdEncoding.DecodeString(req.Payload)
	if err != nil || perr != nil || req.Payload == "" {
		s.refuse(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid value at 'payload' (TYPE_BYTES), Base64 decoding failed.")
		return
	}
	sig, err := s.sign(payload)
	if err != nil {
		s.refuse(w, http.StatusInternalServerError, "INTERNAL", "Internal error encountered.")
		return
	}
	s.mu.Lock()
	s.calls.SignBlobs++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"keyId":      s.keyID,
		"signedBlob": base64.StdEncoding.EncodeToString(sig),
	})
}

func (s *Stub) validToken(header string) bool {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

// refuse answers in Google's JSON error shape.
func (s *Stub) refuse(w http.ResponseWriter, status int, reason, msg string) {
	s.mu.Lock()
	s.calls.Refused++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"code": status, "message": msg, "status": reason},
	})
}

// Transport sends requests for the IAM Credentials API to the stand-in at
// stubURL and refuses every other host, so code under test can never reach
// Google by accident.
func Transport(stubURL string) (http.RoundTripper, error) {
	return TransportOver(stubURL, http.DefaultTransport)
}

// TransportOver is Transport over base (the caller's pooled or TLS
// transport), so what base does with connections is what is measured.
func TransportOver(stubURL string, base http.RoundTripper) (http.RoundTripper, error) {
	u, err := url.Parse(stubURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("iamstub: bad stand-in URL %q", stubURL)
	}
	return redirect{to: u, base: base}, nil
}

type redirect struct {
	to   *url.URL
	base http.RoundTripper
}

func (t redirect) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != Host {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("iamstub: refusing a request to %s: only %s is stood in for", r.URL.Host, Host)
	}
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = t.to.Scheme, t.to.Host
	r.Host = ""
	return t.base.RoundTrip(r)
}

// sign signs payload with the account's key, or answers the signature made
// at start when the stand-in signs once.
func (s *Stub) sign(payload []byte) ([]byte, error) {
	if s.opts.SignOnce {
		s.once.Do(func() {
			sum := sha256.Sum256([]byte("dfbridge load benchmark"))
			s.onceSig, s.onceErr = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
		})
		return s.onceSig, s.onceErr
	}
	sum := sha256.Sum256(payload)
	return rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
}
