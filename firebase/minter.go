package firebase

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	fb "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/auth"
	"google.golang.org/api/option"

	"github.com/dfbridge/dfbridge/bridge"
)

// TokenLifetime is the fixed lifetime Firebase gives custom tokens.
const TokenLifetime = time.Hour

// Config selects how tokens are signed.
type Config struct {
	// ProjectID is the Firebase project. Required for the emulator and
	// keyless signing; read from the key file otherwise.
	ProjectID string
	// CredentialsJSON is a service-account key, as JSON. When empty and
	// CredentialsFile is empty, signing is keyless (IAM signBlob).
	CredentialsJSON []byte
	// CredentialsFile is a path to a service-account key file.
	CredentialsFile string
	// ServiceAccountEmail is the account keyless signing signs as. When
	// empty on Cloud Run, the Admin SDK asks the metadata server.
	ServiceAccountEmail string
	// EmulatorHost is host:port of the Firebase Auth emulator; when set,
	// tokens are unsigned emulator tokens. The Admin SDK reads it from the
	// FIREBASE_AUTH_EMULATOR_HOST environment variable, which must match.
	EmulatorHost string
	// Options are extra client options (tests point IAM at a stand-in).
	Options []option.ClientOption
}

// Client wraps the Admin SDK's Auth client.
type Client struct {
	auth *auth.Client
	now  func() time.Time

	mu      sync.Mutex
	tenants map[string]*auth.TenantClient
}

// Minter signs Firebase custom tokens.
type Minter struct{ c *Client }

var _ bridge.Minter = (*Minter)(nil)

// New builds an Admin SDK Auth client from cfg.
func New(ctx context.Context, cfg Config) (*Client, error) {
	opts := append([]option.ClientOption{}, cfg.Options...)
	switch {
	case cfg.EmulatorHost != "":
		// The Admin SDK switches to emulator mode from the environment.
	case len(cfg.CredentialsJSON) > 0:
		opts = append(opts, option.WithCredentialsJSON(cfg.CredentialsJSON))
	case cfg.CredentialsFile != "":
		opts = append(opts, option.WithCredentialsFile(cfg.CredentialsFile))
	}
	app, err := fb.NewApp(ctx, &fb.Config{
		ProjectID:        cfg.ProjectID,
		ServiceAccountID: cfg.ServiceAccountEmail,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("initializing firebase app: %w", err)
	}
	a, err := app.Auth(ctx)
	if err != nil {
		return nil, fmt.Errorf("initializing firebase auth: %w", err)
	}
	return &Client{auth: a, now: time.Now, tenants: map[string]*auth.TenantClient{}}, nil
}

// Auth returns the Admin SDK client, for tests and user management.
func (c *Client) Auth() *auth.Client { return c.auth }

// Minter returns a bridge.Minter signing with this client.
func (c *Client) Minter() *Minter { return &Minter{c: c} }

// tenantScoped is what the bridge uses of an Auth client; the project
// client and tenant clients both have it.
type tenantScoped interface {
	CustomTokenWithClaims(ctx context.Context, uid string, claims map[string]any) (string, error)
	GetUsers(ctx context.Context, identifiers []auth.UserIdentifier) (*auth.GetUsersResult, error)
}

func (c *Client) forTenant(tenantID string) (tenantScoped, error) {
	if tenantID == "" {
		return c.auth, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if tc, ok := c.tenants[tenantID]; ok {
		return tc, nil
	}
	tc, err := c.auth.TenantManager.AuthForTenant(tenantID)
	if err != nil {
		return nil, err
	}
	c.tenants[tenantID] = tc
	return tc, nil
}

// Mint signs a custom token for id. Firebase fixes its lifetime at one hour
// from iat; ExpiresAt is computed from the same clock reading the SDK uses.
func (m *Minter) Mint(ctx context.Context, id bridge.Identity) (*bridge.CustomToken, error) {
	tc, err := m.c.forTenant(id.TenantID)
	if err != nil {
		return nil, bridge.Wrap(bridge.CodeTenantNotMapped, err, "selecting firebase tenant")
	}
	claims := id.Claims
	if len(claims) == 0 {
		claims = nil
	}
	before := m.c.now()
	tok, err := tc.CustomTokenWithClaims(ctx, id.UID, claims)
	if err != nil {
		return nil, classifyMintError(err)
	}
	exp, err := expiryOf(tok)
	if err != nil {
		exp = before.Add(TokenLifetime)
	}
	return &bridge.CustomToken{Token: tok, ExpiresAt: exp}, nil
}

func classifyMintError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "uid must be non-empty"):
		return bridge.Wrap(bridge.CodeUIDTooLong, err, "minting custom token")
	case strings.Contains(msg, "reserved"):
		return bridge.Wrap(bridge.CodeInvalidClaims, err, "minting custom token")
	}
	return bridge.Wrap(bridge.CodeSigningFailed, err, "minting custom token")
}

var errNoExp = errors.New("custom token has no exp")

// SelfTest proves the signer works by minting one token for a probe UID. On
// keyless setups this is one IAM signBlob call, made once at start-up.
func (c *Client) SelfTest(ctx context.Context) error {
	if _, err := c.auth.CustomToken(ctx, "dfbridge-readiness-probe"); err != nil {
		return fmt.Errorf("minting a probe token: %w", err)
	}
	return nil
}
