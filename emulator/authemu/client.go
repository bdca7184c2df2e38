// Package authemu is the harness for the real Firebase Auth emulator
// (firebase-tools, pinned in package.json): a small client for the REST calls
// a Firebase client SDK makes (sign in with a custom token, refresh), plus
// the emulator's admin routes tests need (tenants). The start script beside
// it installs and starts the emulator.
package authemu

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one Auth emulator.
type Client struct {
	// Host is host:port, as in FIREBASE_AUTH_EMULATOR_HOST.
	Host      string
	ProjectID string
	HTTP      *http.Client
}

// New returns a client for host (host:port) and project.
func New(host, projectID string) *Client {
	return &Client{Host: host, ProjectID: projectID, HTTP: &http.Client{Timeout: 15 * time.Second}}
}

// Error is an error answer from the emulator; Message is Firebase's code,
// such as USER_DISABLED or INVALID_CUSTOM_TOKEN.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("auth emulator: %d %s", e.Status, e.Message) }

// Tokens is what a client SDK holds after signing in.
type Tokens struct {
	IDToken      string `json:"idToken"`
	RefreshToken string `json:"refreshToken"`
}

// SignInWithCustomToken does what signInWithCustomToken does in a client SDK.
// tenantID is "" for the project.
func (c *Client) SignInWithCustomToken(ctx context.Context, customToken, tenantID string) (*Tokens, error) {
	body := map[string]any{"token": customToken, "returnSecureToken": true}
	if tenantID != "" {
		body["tenantId"] = tenantID
	}
	var out Tokens
	err := c.post(ctx, "/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken?key=any", "", body, &out)
	return &out, err
}

// Refresh exchanges a refresh token for a new ID token, as client SDKs do
// every hour.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+c.Host+"/securetoken.googleapis.com/v1/token?key=any", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var raw struct {
		IDToken      string `json:"id_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := c.do(req, &raw); err != nil {
		return nil, err
	}
	return &Tokens{IDToken: raw.IDToken, RefreshToken: raw.RefreshToken}, nil
}

// CreateTenant creates an Identity Platform tenant in the emulator and
// returns its ID.
func (c *Client) CreateTenant(ctx context.Context, displayName string) (string, error) {
	var out struct {
		Name     string `json:"name"`
		TenantID string `json:"tenantId"`
	}
	err := c.post(ctx, "/identitytoolkit.googleapis.com/v2/projects/"+c.ProjectID+"/tenants", "owner",
		map[string]any{"displayName": displayName, "allowPasswordSignup": true}, &out)
	if err != nil {
		return "", err
	}
	if out.TenantID != "" {
		return out.TenantID, nil
	}
	return out.Name[strings.LastIndex(out.Name, "/")+1:], nil
}

// Ping reports whether the emulator answers.
func (c *Client) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Host+"/emulator/v1/projects/"+c.ProjectID+"/config", nil)
	if err != nil {
		return err
	}
	return c.do(req, nil)
}

func (c *Client) post(ctx context.Context, path, bearer string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.Host+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return c.do(req, out)
}

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("calling auth emulator: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading auth emulator answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		return &Error{Status: resp.StatusCode, Message: e.Error.Message}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// Claims decodes a JWT's payload without verifying it. The emulator's ID
// tokens are unsigned; this is for reading them in tests, nothing else.
func Claims(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}
