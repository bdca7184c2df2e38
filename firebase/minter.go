package firebase

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"net/http"

	"cloud.google.com/go/compute/metadata"
	fb "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/auth"
	"firebase.google.com/go/v4/errorutils"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"

	"github.com/dfbridge/dfbridge/bridge"
)

// TokenLifetime is the fixed lifetime Firebase gives custom tokens.
const TokenLifetime = time.Hour

// ClientConfig selects how tokens are signed.
type ClientConfig struct {
	// ProjectID is the Firebase project. Required for the emulator and
	// keyless signing; read from the key file otherwise.
	ProjectID string
	// CredentialsJSON is a service-account key, as JSON. When empty and
	// CredentialsFile is empty, signing is keyless (IAM signBlob).
	CredentialsJSON []byte
	// CredentialsFile is a path to a service-account key file.
	CredentialsFile string
	// ServiceAccountEmail is the account keyless signing signs as. When
	// empty, New asks the metadata server once (on Cloud Run: the service's
	// own account).
	ServiceAccountEmail string
	// EmulatorHost is host:port of the Firebase Auth emulator; when set,
	// tokens are unsigned emulator tokens. The Admin SDK reads it from the
	// FIREBASE_AUTH_EMULATOR_HOST environment variable, which must match.
	EmulatorHost string
	// Options are extra client options (tests point IAM at a stand-in).
	Options []option.ClientOption
	// IAM tunes keyless signing (pool, concurrency, retries, breaker).
	IAM IAMOptions
	// SigningTimeout bounds one keyless signature, IAM's retries included
	// (default 5 s), so an exchange is answered within the write timeout.
	SigningTimeout time.Duration
}

// Signing modes, as Client.Mode reports them.
const (
	ModeEmulator = "emulator"
	ModeKey      = "key"
	ModeKeyless  = "keyless"
)

// Client wraps the Admin SDK's Auth client.
type Client struct {
	auth    *auth.Client
	now     func() time.Time
	mode    string
	account string

	mu      sync.Mutex
	tenants map[string]*auth.TenantClient

	// iam is keyless signing's transport, nil in the other modes.
	iam            *iamTransport
	signingTimeout time.Duration
}

// Minter signs Firebase custom tokens.
type Minter struct{ c *Client }

var _ bridge.Minter = (*Minter)(nil)

// New builds an Admin SDK Auth client from cfg.
func New(ctx context.Context, cfg ClientConfig) (*Client, error) {
	opts := append([]option.ClientOption{}, cfg.Options...)
	mode := ModeKey
	switch {
	case cfg.EmulatorHost != "":
		// The Admin SDK switches to emulator mode from the environment.
		mode = ModeEmulator
	case len(cfg.CredentialsJSON) > 0:
		// Typed: only a service-account key is accepted, never another
		// credential type (external accounts can name arbitrary URLs).
		opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, cfg.CredentialsJSON))
	case cfg.CredentialsFile != "":
		opts = append(opts, option.WithAuthCredentialsFile(option.ServiceAccount, cfg.CredentialsFile))
	default:
		mode = ModeKeyless
		if cfg.ServiceAccountEmail == "" {
			email, err := metadataAccount(ctx)
			if err != nil {
				return nil, err
			}
			cfg.ServiceAccountEmail = email
		}
	}
	var iam *iamTransport
	if mode == ModeKeyless {
		// The Admin SDK's calls (signBlob above all) run on a pooled,
		// retrying, breaker-guarded transport, authenticated with
		// Application Default Credentials (the metadata server on Cloud Run).
		iam = newIAMTransport(cfg.IAM)
		authed, err := htransport.NewTransport(ctx, iam, option.WithScopes("https://www.googleapis.com/auth/cloud-platform"))
		if err != nil {
			return nil, fmt.Errorf("building the IAM transport: %w", err)
		}
		opts = append(opts, option.WithHTTPClient(&http.Client{Transport: authed}))
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
	c := &Client{auth: a, now: time.Now, mode: mode, tenants: map[string]*auth.TenantClient{}, iam: iam,
		signingTimeout: cfg.SigningTimeout}
	if c.signingTimeout <= 0 {
		c.signingTimeout = 5 * time.Second
	}
	if mode == ModeKeyless {
		c.account = cfg.ServiceAccountEmail
	}
	return c, nil
}

// metadataAccount asks the metadata server which account this instance runs
// as. The Admin SDK would ask it too, but its IAM signer (v4.21.0) does not
// keep the answer (Email has a value receiver), so it would ask again before
// every signBlob, and it hardcodes metadata.google.internal, ignoring
// GCE_METADATA_HOST. Asking once here, through Google's metadata client,
// saves that round trip per token and turns "no account" into a start-up
// error instead of a failed exchange.
func metadataAccount(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	email, err := metadata.EmailWithContext(ctx, "default")
	if err == nil && email == "" {
		err = errNoAccount
	}
	if err != nil {
		return "", fmt.Errorf("finding the service account for keyless signing from the metadata server "+
			"(set FIREBASE_SERVICE_ACCOUNT_EMAIL off Google Cloud, or give a key): %w", err)
	}
	return email, nil
}

var errNoAccount = errors.New("the metadata server named no service account")

// Mode is how tokens are signed: ModeEmulator, ModeKey or ModeKeyless.
func (c *Client) Mode() string { return c.mode }

// Account is the service account keyless signing signs as; empty in the
// other modes.
func (c *Client) Account() string { return c.account }

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
	if m.c.iam != nil {
		// Keyless: fail fast while IAM keeps failing, and bound the
		// signature with IAM's retries to the signing deadline.
		if open, until := m.c.iam.open(); open {
			return nil, bridge.Wrap(bridge.CodeSigningUnavailable, errBreakerOpen,
				"IAM signBlob breaker open until "+until.Format(time.RFC3339))
		}
		var cancel context.CancelFunc
		ctx, cancel = signingContext(ctx, m.c.signingTimeout)
		defer cancel()
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
	case errors.Is(err, errBreakerOpen), errors.Is(err, context.DeadlineExceeded),
		errorutils.IsResourceExhausted(err), errorutils.IsUnavailable(err):
		// IAM's quota or an outage: worth retrying after a pause.
		return bridge.Wrap(bridge.CodeSigningUnavailable, err, "minting custom token")
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
		if c.mode == ModeKeyless {
			return fmt.Errorf("minting a probe token through IAM signBlob as %s "+
				"(it needs roles/iam.serviceAccountTokenCreator on itself and the iamcredentials API enabled): %w",
				c.account, err)
		}
		return fmt.Errorf("minting a probe token: %w", err)
	}
	return nil
}
