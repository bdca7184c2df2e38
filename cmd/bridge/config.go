package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"google.golang.org/api/option"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/descope"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/webhook"
)

// Config is every setting of the service. Names follow the ecosystem's own
// variables where they exist.
type Config struct {
	// Port to listen on (Cloud Run sets it); 0 picks a free port.
	Port int `envconfig:"PORT" default:"8080"`
	// ListenHost to bind; empty means all interfaces.
	ListenHost string `envconfig:"LISTEN_HOST" default:""`

	// DescopeProjectID is the Descope project whose sessions are accepted.
	DescopeProjectID string `envconfig:"DESCOPE_PROJECT_ID" required:"true"`
	// DescopeBaseURL is Descope's API; point it at the local stand-in in dev.
	DescopeBaseURL string `envconfig:"DESCOPE_BASE_URL" default:"https://api.descope.com"`
	// DescopeManagementKey enables management-API look-ups (migration by
	// email, lifecycle sync). Optional.
	DescopeManagementKey string `envconfig:"DESCOPE_MANAGEMENT_KEY"`
	// JWTAuthSchema is the authorization schema of the project's JWT
	// template, in Descope's names: default, tenantOnly or none.
	JWTAuthSchema string `envconfig:"DESCOPE_JWT_AUTH_SCHEMA" default:"default"`
	// authSchema is JWTAuthSchema checked.
	authSchema descope.AuthSchema
	// ResolvePermissions resolves each session's permissions from Descope's
	// role table on /exchange, for JWT templates that exclude permissions
	// (the connector route always does). Needs DESCOPE_MANAGEMENT_KEY.
	ResolvePermissions bool `envconfig:"DESCOPE_RESOLVE_PERMISSIONS" default:"false"`
	// KeysRefreshInterval is how often Descope's key set is refreshed.
	KeysRefreshInterval time.Duration `envconfig:"DESCOPE_KEYS_REFRESH_INTERVAL" default:"10m"`
	// KeysUnknownKIDCooldown is the least time between fetches caused by
	// tokens with an unknown kid.
	KeysUnknownKIDCooldown time.Duration `envconfig:"DESCOPE_KEYS_UNKNOWN_KID_COOLDOWN" default:"30s"`
	// KeysMaxStale is how long the last good key set serves while Descope's
	// key endpoint fails.
	KeysMaxStale time.Duration `envconfig:"DESCOPE_KEYS_MAX_STALE" default:"24h"`
	// KeysFetchTimeout bounds one fetch of Descope's key set, so a hanging
	// key endpoint cannot hold up the requests waiting on it.
	KeysFetchTimeout time.Duration `envconfig:"DESCOPE_KEYS_FETCH_TIMEOUT" default:"5s"`
	// TokenLeeway allows clock skew on exp/nbf/iat (at most 5s, the SDK's own).
	TokenLeeway time.Duration `envconfig:"TOKEN_LEEWAY" default:"5s"`

	// DescopeAllowedAudiences, when set, refuses a token whose aud names
	// none of them: Descope OIDC access tokens issued to another
	// application of the project.
	DescopeAllowedAudiences []string `envconfig:"DESCOPE_ALLOWED_AUDIENCES"`

	// FirebaseProjectID is the Firebase project. Unset, it is
	// GOOGLE_CLOUD_PROJECT, then GCLOUD_PROJECT (as the Admin SDK reads
	// them), then the key's project_id; required for the emulator and
	// keyless signing.
	FirebaseProjectID string `envconfig:"FIREBASE_PROJECT_ID"`
	// FirebaseKeyOtherProject allows a key file whose project_id is not
	// FIREBASE_PROJECT_ID: a service account of another project granted
	// the right to sign for this one. Unset, such a key stops start-up.
	FirebaseKeyOtherProject bool `envconfig:"FIREBASE_KEY_OTHER_PROJECT" default:"false"`
	// FirebaseWebAPIKey is the Firebase project's Web API key (a public
	// identifier, not a secret); only bridge doctor uses it, to prove that
	// Firebase accepts the minted tokens.
	FirebaseWebAPIKey string `envconfig:"FIREBASE_WEB_API_KEY"`
	// GcloudProject is the older name gcloud and the Admin SDK also read.
	GcloudProject string `envconfig:"GCLOUD_PROJECT"`
	// keyAccount is the key's client_email, for the start-up log.
	keyAccount string
	// GoogleApplicationCredentials is a service-account key file path.
	GoogleApplicationCredentials string `envconfig:"GOOGLE_APPLICATION_CREDENTIALS"`
	// FirebaseServiceAccountJSON is the key itself, for Secret Manager users
	// who mount it as an environment variable.
	FirebaseServiceAccountJSON string `envconfig:"FIREBASE_SERVICE_ACCOUNT_JSON"`
	// FirebaseServiceAccountEmail is who keyless signing signs as; unset, it
	// is asked of the metadata server once at start (on Cloud Run, the
	// service's own account).
	FirebaseServiceAccountEmail string `envconfig:"FIREBASE_SERVICE_ACCOUNT_EMAIL"`
	// FirebaseAuthEmulatorHost (host:port) makes the bridge mint emulator
	// tokens and manage emulator users. Never set in production.
	FirebaseAuthEmulatorHost string `envconfig:"FIREBASE_AUTH_EMULATOR_HOST"`

	// ExchangeCacheSize is how many sessions' exchanges are remembered, so a
	// repeat of the same session (a retry, an app restart) costs no new
	// signature. 0 turns the cache off.
	ExchangeCacheSize int `envconfig:"EXCHANGE_CACHE_SIZE" default:"1024"`
	// ExchangeCacheTTL is the longest a remembered exchange serves after its
	// token was minted (never past the session's own exp); at most 15m, so a
	// served custom token has most of its hour left.
	ExchangeCacheTTL time.Duration `envconfig:"EXCHANGE_CACHE_TTL" default:"5m"`

	// ExchangeInFlightPerCore is how many exchanges signing with a key file
	// run at once per core; the rest wait in one first-come-first-served
	// queue. Keyless signing waits on IAM, not the CPU, and is not queued.
	ExchangeInFlightPerCore int `envconfig:"EXCHANGE_IN_FLIGHT_PER_CORE" default:"2"`
	// ExchangeQueueMax is how many exchanges may wait for their turn; more
	// are answered 503 busy with Retry-After at once.
	ExchangeQueueMax int `envconfig:"EXCHANGE_QUEUE_MAX" default:"1024"`

	// GoogleCloudProject is the project the service runs in, which names
	// traces in the logs' logging.googleapis.com/trace field. Defaults to
	// FIREBASE_PROJECT_ID; set it when the service runs in another project.
	GoogleCloudProject string `envconfig:"GOOGLE_CLOUD_PROJECT"`

	// MetricsAddr (host:port) serves GET /metrics on a listener of its own,
	// for a collector beside the service (on Cloud Run only PORT is
	// reachable from outside). Empty means no such listener.
	MetricsAddr string `envconfig:"METRICS_ADDR"`
	// MetricsOnMainPort also serves GET /metrics on PORT. Off by default:
	// the public port should not tell the world the service's traffic.
	MetricsOnMainPort bool `envconfig:"METRICS_ON_MAIN_PORT" default:"false"`

	// IdentityMapping is the mapping from Descope sessions to Firebase
	// identities: the JSON document itself, or a path to a file holding it.
	// Empty means the default (Descope user ID; roles, permissions, tenants,
	// dct as claims). See the README's "Mapping" section.
	IdentityMapping string `envconfig:"IDENTITY_MAPPING"`
	// mapping is IdentityMapping parsed by Validate.
	mapping *bridge.Mapping

	// CORSAllowedOrigins are the browser origins allowed to call the API,
	// comma-separated, exactly as browsers send them
	// (https://app.example.com). Empty: no cross-origin access.
	CORSAllowedOrigins []string `envconfig:"CORS_ALLOWED_ORIGINS"`
	// RateLimitIPPerMinute is how many exchanges a minute one client address
	// may start, checked before the token is read; 0 turns it off.
	RateLimitIPPerMinute int `envconfig:"RATE_LIMIT_IP_PER_MINUTE" default:"600"`
	// RateLimitIPBurst is how many of those may come at once.
	RateLimitIPBurst int `envconfig:"RATE_LIMIT_IP_BURST" default:"100"`
	// RateLimitUserPerMinute is how many exchanges a minute one Descope user
	// may complete, checked after verification; 0 turns it off.
	RateLimitUserPerMinute int `envconfig:"RATE_LIMIT_USER_PER_MINUTE" default:"60"`
	// RateLimitUserBurst is how many of those may come at once.
	RateLimitUserBurst int `envconfig:"RATE_LIMIT_USER_BURST" default:"20"`
	// TrustedProxyHops is how many trusted proxies in front of the service
	// write the client address into X-Forwarded-For: 1 on Cloud Run, one
	// more for each further proxy that appends. 0 (the default) ignores the
	// header and limits by the connection's peer address.
	TrustedProxyHops int `envconfig:"TRUSTED_PROXY_HOPS" default:"0"`
	// CloudRunService is set by Cloud Run; it only lets start-up warn when
	// TRUSTED_PROXY_HOPS is left at 0 there.
	CloudRunService string `envconfig:"K_SERVICE"`
	// ExternalTokenHMACSecrets authenticate Descope's Generic HTTP Token
	// connector by its HMAC secret; comma-separated, several during a
	// rotation. Any external-token secret enables POST /webhook/external-token.
	ExternalTokenHMACSecrets []string `envconfig:"EXTERNAL_TOKEN_HMAC_SECRETS"`
	// ExternalTokenBearerSecrets authenticate the connector by a bearer
	// token (its "Bearer Token" authentication type). With both kinds set,
	// a call must carry both.
	ExternalTokenBearerSecrets []string `envconfig:"EXTERNAL_TOKEN_BEARER_SECRETS"`
	// ExternalTokenAPIKeyHeader is the header the connector's "API Key"
	// authentication type sends its key in.
	ExternalTokenAPIKeyHeader string `envconfig:"EXTERNAL_TOKEN_API_KEY_HEADER" default:"x-api-key"`
	// ExternalTokenAPIKeys authenticate the connector by an API key in that
	// header; comma-separated for rotation.
	ExternalTokenAPIKeys []string `envconfig:"EXTERNAL_TOKEN_API_KEYS"`
	// ExternalTokenBasicAuth authenticate it by Basic credentials,
	// "user:password" entries, comma-separated for rotation.
	ExternalTokenBasicAuth []string `envconfig:"EXTERNAL_TOKEN_BASIC_AUTH"`
	// AuditWebhookHMACSecrets authenticate Descope's audit webhook connector;
	// any audit secret enables POST /webhook/audit.
	AuditWebhookHMACSecrets []string `envconfig:"AUDIT_WEBHOOK_HMAC_SECRETS"`
	// AuditWebhookBearerSecrets authenticate it by a bearer token.
	AuditWebhookBearerSecrets []string `envconfig:"AUDIT_WEBHOOK_BEARER_SECRETS"`
	// AuditWebhookAPIKeyHeader, AuditWebhookAPIKeys and AuditWebhookBasicAuth
	// are the API-key and Basic authentication types of the audit connector.
	AuditWebhookAPIKeyHeader string   `envconfig:"AUDIT_WEBHOOK_API_KEY_HEADER" default:"x-api-key"`
	AuditWebhookAPIKeys      []string `envconfig:"AUDIT_WEBHOOK_API_KEYS"`
	AuditWebhookBasicAuth    []string `envconfig:"AUDIT_WEBHOOK_BASIC_AUTH"`
	// AuditWebhookOnUserDeleted is what a Descope deletion does to the
	// Firebase account: disable (revoke, then disable) or delete.
	AuditWebhookOnUserDeleted string `envconfig:"AUDIT_WEBHOOK_ON_USER_DELETED" default:"disable"`
	// AuditWebhookRevokeOnMaxAttempts revokes a user's Firebase sessions on
	// LoginExceedMaxAttempts.
	AuditWebhookRevokeOnMaxAttempts bool `envconfig:"AUDIT_WEBHOOK_REVOKE_ON_MAX_ATTEMPTS" default:"true"`
	// AuditWebhookDedupeWindow and AuditWebhookDedupeSize bound the memory
	// of accepted audit events, by which a repeated one changes nothing.
	AuditWebhookDedupeWindow time.Duration `envconfig:"AUDIT_WEBHOOK_DEDUPE_WINDOW" default:"1h"`
	AuditWebhookDedupeSize   int           `envconfig:"AUDIT_WEBHOOK_DEDUPE_SIZE" default:"10000"`
	// WebhookRefusalsPerMinute is how many webhook calls a minute one
	// address may fail authentication with before its calls are refused
	// (429) unread; 0 turns it off. Authenticated calls are never charged.
	WebhookRefusalsPerMinute int `envconfig:"WEBHOOK_REFUSALS_PER_MINUTE" default:"60"`

	// LifecycleQueueSize bounds the users waiting for a lifecycle sync;
	// a delivery that does not fit is answered 503 so Descope retries.
	LifecycleQueueSize int `envconfig:"LIFECYCLE_QUEUE_SIZE" default:"50000"`
	// LifecycleWorkers is how many users are synced at once.
	LifecycleWorkers int `envconfig:"LIFECYCLE_WORKERS" default:"8"`
	// LifecycleDescopeRPS and LifecycleFirebaseRPS hold background work
	// (lifecycle jobs and reconcile) to a rate of management calls per
	// upstream; 0 is no limit.
	LifecycleDescopeRPS  float64 `envconfig:"LIFECYCLE_DESCOPE_RPS" default:"50"`
	LifecycleFirebaseRPS float64 `envconfig:"LIFECYCLE_FIREBASE_RPS" default:"200"`
	// LifecycleMaxAttempts is how often a job is tried before it is
	// dropped (logged and counted; reconcile repairs it).
	LifecycleMaxAttempts int `envconfig:"LIFECYCLE_MAX_ATTEMPTS" default:"5"`
	// RedisURL (redis:// or rediss://, with AUTH in the URL) makes many
	// instances act as one: shared exchange limits, audit-event memory and
	// a durable lifecycle queue. Unset, each instance keeps its own.
	RedisURL string `envconfig:"REDIS_URL"`
	// RedisCAFile is a PEM file of the CA that signed Redis's certificate
	// (Memorystore's server CA), trusted for the Redis connection only.
	RedisCAFile string `envconfig:"REDIS_CA_FILE"`
	// LifecycleVisibilityTimeout is how long a job read from the shared
	// queue may stay unacknowledged before another instance takes it over
	// (its reader died). Redis only.
	LifecycleVisibilityTimeout time.Duration `envconfig:"LIFECYCLE_VISIBILITY_TIMEOUT" default:"30s"`
	// LifecycleRoleFanOutMax caps the users one role or permission event
	// re-syncs; reconcile converges the rest.
	LifecycleRoleFanOutMax int `envconfig:"LIFECYCLE_ROLE_FANOUT_MAX" default:"10000"`
	// LifecycleRemovedTTL is how long a user Descope deleted or disabled
	// stays refused by every exchange and connector call (unless Descope
	// enables them sooner), and how long a deleted user's disabled
	// placeholder account stays before reconcile deletes it. It must
	// outlast Descope's session-token timeout plus the custom token's hour.
	LifecycleRemovedTTL time.Duration `envconfig:"LIFECYCLE_REMOVED_TTL" default:"168h"`
	// LifecycleProfileSync is which accounts lifecycle sync writes email
	// and display name on: created (only accounts the bridge created) or
	// all (also accounts linked from other sign-in providers).
	LifecycleProfileSync string `envconfig:"LIFECYCLE_PROFILE_SYNC" default:"created"`

	// LogLevel is debug, info, warn or error.
	LogLevel string `envconfig:"LOG_LEVEL" default:"info"`
	// ShutdownTimeout bounds graceful shutdown, drain included; Cloud Run
	// allows 10s between SIGTERM and SIGKILL.
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"8s"`
	// ShutdownDrain is how long, after SIGTERM, the server keeps serving
	// with /readyz failing and Connection: close on every answer, so
	// kept-alive clients move off before connections are closed.
	ShutdownDrain time.Duration `envconfig:"SHUTDOWN_DRAIN" default:"2s"`

	// googleOptions carry the Admin SDK's calls to Google. Not read from the
	// environment: tests set them to reach emulator/iamstub.
	googleOptions []option.ClientOption
	// identityToolkitBase, when set, is where bridge doctor signs in (tests
	// point it at the Auth emulator while signing keylessly).
	identityToolkitBase string
	// iamBase, when set, is the transport under keyless signing's retries
	// (tests point it at the IAM stand-in).
	iamBase http.RoundTripper
}

// writeTimeout is the server's bound on answering one request; everything a
// request may wait on is bounded below it.
const writeTimeout = 15 * time.Second

// maxKeysFetchTimeout leaves an exchange that waited a whole key fetch 5s
// to verify, map and sign (a keyless signBlob included) before writeTimeout.
const maxKeysFetchTimeout = writeTimeout - 5*time.Second

// traceProject is the project that names traces in log lines.
func (c *Config) traceProject() string {
	if c.GoogleCloudProject != "" {
		return c.GoogleCloudProject
	}
	return c.FirebaseProjectID
}

// loadConfig reads and validates the environment. Its error is one line
// naming the variable and the fix.
func loadConfig() (*Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return nil, configError(err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func configError(err error) error {
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("config: %s=%q is not a valid %s", pe.KeyName, pe.Value, pe.TypeName)
	}
	msg := err.Error()
	if strings.Contains(msg, "required key") {
		return fmt.Errorf("config: %s; set it to your Descope project ID (Project settings in the Descope console)", msg)
	}
	return fmt.Errorf("config: %w", err)
}

// Validate checks what tags cannot: formats and combinations.
func (c *Config) Validate() error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("config: PORT=%d is out of range; use 1-65535 (0 picks a free port)", c.Port)
	}
	if !validProjectID(c.DescopeProjectID) {
		return errors.New("config: DESCOPE_PROJECT_ID is not a Descope project ID (letters and digits, e.g. P2abc...)")
	}
	u, err := url.Parse(c.DescopeBaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("config: DESCOPE_BASE_URL must be an http(s) URL such as https://api.descope.com")
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return errors.New("config: DESCOPE_BASE_URL must use https unless it points at localhost")
	}
	if c.authSchema, err = descope.ParseAuthSchema(c.JWTAuthSchema); err != nil {
		return fmt.Errorf("config: DESCOPE_JWT_AUTH_SCHEMA=%q; use default, tenantOnly or none (the JWT template's authorization schema)", shorten(c.JWTAuthSchema, 40))
	}
	if c.ResolvePermissions && c.DescopeManagementKey == "" {
		return errors.New("config: DESCOPE_RESOLVE_PERMISSIONS reads Descope's role table and needs DESCOPE_MANAGEMENT_KEY (a management key from the Descope console)")
	}
	if c.LifecycleQueueSize < 1 || c.LifecycleWorkers < 1 || c.LifecycleMaxAttempts < 1 || c.LifecycleRoleFanOutMax < 1 {
		return errors.New("config: LIFECYCLE_QUEUE_SIZE, LIFECYCLE_WORKERS, LIFECYCLE_MAX_ATTEMPTS and LIFECYCLE_ROLE_FANOUT_MAX must each be at least 1")
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		return errors.New("config: REDIS_URL must start with redis:// or rediss:// (TLS), e.g. rediss://:PASSWORD@10.0.0.3:6378/0")
	}
	if c.WebhookRefusalsPerMinute < 0 {
		return errors.New("config: WEBHOOK_REFUSALS_PER_MINUTE must be 0 (off) or more")
	}
	if c.LifecycleRemovedTTL < 2*time.Hour {
		return errors.New("config: LIFECYCLE_REMOVED_TTL must be at least 2h (Descope's session-token timeout plus the custom token's hour)")
	}
	if c.LifecycleProfileSync != "created" && c.LifecycleProfileSync != "all" {
		return fmt.Errorf("config: LIFECYCLE_PROFILE_SYNC=%q; use created or all", shorten(c.LifecycleProfileSync, 20))
	}
	if c.LifecycleVisibilityTimeout < time.Second {
		return errors.New("config: LIFECYCLE_VISIBILITY_TIMEOUT must be at least 1s")
	}
	if c.LifecycleDescopeRPS < 0 || c.LifecycleFirebaseRPS < 0 {
		return errors.New("config: LIFECYCLE_DESCOPE_RPS and LIFECYCLE_FIREBASE_RPS must be 0 (no limit) or more")
	}
	if c.KeysRefreshInterval < 10*time.Second {
		return errors.New("config: DESCOPE_KEYS_REFRESH_INTERVAL must be at least 10s")
	}
	if c.KeysUnknownKIDCooldown < time.Second {
		return errors.New("config: DESCOPE_KEYS_UNKNOWN_KID_COOLDOWN must be at least 1s")
	}
	if c.KeysMaxStale < c.KeysRefreshInterval {
		return errors.New("config: DESCOPE_KEYS_MAX_STALE must be at least DESCOPE_KEYS_REFRESH_INTERVAL")
	}
	// A request waits at most one fetch timeout for keys, and must still be
	// answered, signature included, within the server's write timeout.
	if c.KeysFetchTimeout < 100*time.Millisecond || c.KeysFetchTimeout > maxKeysFetchTimeout {
		return fmt.Errorf("config: DESCOPE_KEYS_FETCH_TIMEOUT must be between 100ms and %s (the write timeout, %s, less %s for the rest of an exchange)",
			maxKeysFetchTimeout, writeTimeout, writeTimeout-maxKeysFetchTimeout)
	}
	if err := c.validateLimits(); err != nil {
		return err
	}
	if c.TokenLeeway < 0 || c.TokenLeeway > 5*time.Second {
		return errors.New("config: TOKEN_LEEWAY must be between 0s and 5s")
	}
	if c.ShutdownTimeout <= 0 || c.ShutdownTimeout > 60*time.Second {
		return errors.New("config: SHUTDOWN_TIMEOUT must be between 1ms and 60s")
	}
	if c.ShutdownDrain < 0 || c.ShutdownDrain >= c.ShutdownTimeout {
		return errors.New("config: SHUTDOWN_DRAIN must be at least 0s and shorter than SHUTDOWN_TIMEOUT")
	}
	if c.ExchangeCacheSize < 0 || c.ExchangeCacheSize > 1_000_000 {
		return errors.New("config: EXCHANGE_CACHE_SIZE must be between 0 (off) and 1000000")
	}
	if c.ExchangeCacheSize > 0 && (c.ExchangeCacheTTL < time.Second || c.ExchangeCacheTTL > bridge.MaxCacheTTL) {
		return errors.New("config: EXCHANGE_CACHE_TTL must be between 1s and 15m")
	}
	if c.ExchangeInFlightPerCore < 1 || c.ExchangeInFlightPerCore > 64 {
		return errors.New("config: EXCHANGE_IN_FLIGHT_PER_CORE must be between 1 and 64")
	}
	if c.ExchangeQueueMax < 0 || c.ExchangeQueueMax > 1_000_000 {
		return errors.New("config: EXCHANGE_QUEUE_MAX must be between 0 and 1000000")
	}
	if _, err := c.slogLevel(); err != nil {
		return err
	}
	if err := c.validateWebhooks(); err != nil {
		return err
	}
	if c.GoogleApplicationCredentials != "" && c.FirebaseServiceAccountJSON != "" {
		return errors.New("config: set only one of GOOGLE_APPLICATION_CREDENTIALS and FIREBASE_SERVICE_ACCOUNT_JSON")
	}
	if err := c.checkSigning(); err != nil {
		return err
	}
	if c.MetricsAddr != "" {
		host, port, err := net.SplitHostPort(c.MetricsAddr)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			return fmt.Errorf("config: METRICS_ADDR=%q is not host:port; use e.g. 127.0.0.1:9464", c.MetricsAddr)
		}
		if port == strconv.Itoa(c.Port) && c.Port != 0 && (host == c.ListenHost || host == "" || c.ListenHost == "") {
			return fmt.Errorf("config: METRICS_ADDR=%q is the service's own port; pick another port, or METRICS_ON_MAIN_PORT=true", c.MetricsAddr)
		}
	}
	if err := c.loadMapping(); err != nil {
		return err
	}
	keyless := c.GoogleApplicationCredentials == "" && c.FirebaseServiceAccountJSON == ""
	if (c.FirebaseAuthEmulatorHost != "" || keyless) && c.FirebaseProjectID == "" {
		return errors.New("config: FIREBASE_PROJECT_ID (or GOOGLE_CLOUD_PROJECT) is required with the Auth emulator or keyless signing")
	}
	return nil
}

// validateLimits checks the browser and rate-limit settings, and trims the
// origin list (envconfig splits on commas but keeps the spaces around them).
func (c *Config) validateLimits() error {
	origins := make([]string, 0, len(c.CORSAllowedOrigins))
	for _, o := range c.CORSAllowedOrigins {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if err := httpapi.CheckOrigin(o); err != nil {
			return fmt.Errorf("config: CORS_ALLOWED_ORIGINS: %w", err)
		}
		origins = append(origins, o)
	}
	c.CORSAllowedOrigins = origins
	for _, l := range []struct {
		name         string
		rate, burst  int
		burstSetting string
	}{
		{"RATE_LIMIT_IP_PER_MINUTE", c.RateLimitIPPerMinute, c.RateLimitIPBurst, "RATE_LIMIT_IP_BURST"},
		{"RATE_LIMIT_USER_PER_MINUTE", c.RateLimitUserPerMinute, c.RateLimitUserBurst, "RATE_LIMIT_USER_BURST"},
	} {
		if l.rate < 0 {
			return fmt.Errorf("config: %s must be 0 (off) or more", l.name)
		}
		if l.rate > 0 && l.burst < 1 {
			return fmt.Errorf("config: %s must be at least 1 when %s is set", l.burstSetting, l.name)
		}
	}
	if c.TrustedProxyHops < 0 || c.TrustedProxyHops > 5 {
		return errors.New("config: TRUSTED_PROXY_HOPS must be between 0 and 5 (1 on Cloud Run)")
	}
	return nil
}

func (c *Config) slogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("config: LOG_LEVEL=%q; use debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

func validProjectID(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

// minWebhookSecret is the shortest secret accepted: a connector secret is
// as strong as the tokens it lets Descope mint.
const minWebhookSecret = 16

// validateWebhooks checks the webhook secrets and options.
func (c *Config) validateWebhooks() error {
	for name, secrets := range map[string][]string{
		"EXTERNAL_TOKEN_HMAC_SECRETS":   c.ExternalTokenHMACSecrets,
		"EXTERNAL_TOKEN_BEARER_SECRETS": c.ExternalTokenBearerSecrets,
		"EXTERNAL_TOKEN_API_KEYS":       c.ExternalTokenAPIKeys,
		"EXTERNAL_TOKEN_BASIC_AUTH":     c.ExternalTokenBasicAuth,
		"AUDIT_WEBHOOK_HMAC_SECRETS":    c.AuditWebhookHMACSecrets,
		"AUDIT_WEBHOOK_BEARER_SECRETS":  c.AuditWebhookBearerSecrets,
		"AUDIT_WEBHOOK_API_KEYS":        c.AuditWebhookAPIKeys,
		"AUDIT_WEBHOOK_BASIC_AUTH":      c.AuditWebhookBasicAuth,
	} {
		for _, s := range secrets {
			if len(s) < minWebhookSecret || strings.TrimSpace(s) != s {
				return fmt.Errorf("config: %s holds a secret that is empty, shorter than %d characters or padded with spaces; use comma-separated random secrets (openssl rand -base64 32)", name, minWebhookSecret)
			}
		}
	}
	for _, b := range []struct {
		name    string
		entries []string
	}{{"EXTERNAL_TOKEN_BASIC_AUTH", c.ExternalTokenBasicAuth}, {"AUDIT_WEBHOOK_BASIC_AUTH", c.AuditWebhookBasicAuth}} {
		for _, e := range b.entries {
			if user, pass, ok := strings.Cut(e, ":"); !ok || user == "" || pass == "" {
				return fmt.Errorf("config: %s entries must be user:password, comma-separated", b.name)
			}
		}
	}
	if len(c.ExternalTokenBearerSecrets) > 0 && len(c.ExternalTokenBasicAuth) > 0 {
		return errors.New("config: EXTERNAL_TOKEN_BEARER_SECRETS and EXTERNAL_TOKEN_BASIC_AUTH both use the Authorization header, so no call could pass both; set one")
	}
	if len(c.AuditWebhookBearerSecrets) > 0 && len(c.AuditWebhookBasicAuth) > 0 {
		return errors.New("config: AUDIT_WEBHOOK_BEARER_SECRETS and AUDIT_WEBHOOK_BASIC_AUTH both use the Authorization header, so no call could pass both; set one")
	}
	for name, h := range map[string]string{"EXTERNAL_TOKEN_API_KEY_HEADER": c.ExternalTokenAPIKeyHeader, "AUDIT_WEBHOOK_API_KEY_HEADER": c.AuditWebhookAPIKeyHeader} {
		if !validHeaderName(h) || strings.EqualFold(h, "Authorization") || strings.EqualFold(h, "X-Descope-Webhook-S256") {
			return fmt.Errorf("config: %s=%q must be a header name other than Authorization and X-Descope-Webhook-S256, e.g. x-api-key", name, shorten(h, 60))
		}
	}
	if c.AuditWebhookOnUserDeleted != "disable" && c.AuditWebhookOnUserDeleted != "delete" {
		return fmt.Errorf("config: AUDIT_WEBHOOK_ON_USER_DELETED=%q; use disable or delete", c.AuditWebhookOnUserDeleted)
	}
	if c.externalTokenEnabled() && c.DescopeManagementKey == "" {
		return errors.New("config: the external-token connector resolves permissions from Descope's role table (the user record it sends has roles only) and needs DESCOPE_MANAGEMENT_KEY")
	}
	if c.auditWebhookEnabled() && c.DescopeManagementKey == "" {
		return errors.New("config: the audit webhook re-reads users from Descope and needs DESCOPE_MANAGEMENT_KEY (a management key from the Descope console)")
	}
	if c.AuditWebhookDedupeWindow < time.Second || c.AuditWebhookDedupeWindow > 24*time.Hour {
		return errors.New("config: AUDIT_WEBHOOK_DEDUPE_WINDOW must be between 1s and 24h")
	}
	if c.AuditWebhookDedupeSize < 1 || c.AuditWebhookDedupeSize > 1_000_000 {
		return errors.New("config: AUDIT_WEBHOOK_DEDUPE_SIZE must be between 1 and 1000000")
	}
	return nil
}

func (c *Config) externalTokenEnabled() bool { return c.externalTokenSecrets().Enabled() }

func (c *Config) auditWebhookEnabled() bool { return c.auditSecrets().Enabled() }

// externalTokenSecrets are the connector route's credentials, every
// configured authentication type together.
func (c *Config) externalTokenSecrets() webhook.Secrets {
	return webhook.NewSecrets(c.ExternalTokenHMACSecrets, c.ExternalTokenBearerSecrets).
		WithAPIKeys(c.ExternalTokenAPIKeyHeader, c.ExternalTokenAPIKeys).
		WithBasic(c.ExternalTokenBasicAuth)
}

// auditSecrets are the audit route's credentials.
func (c *Config) auditSecrets() webhook.Secrets {
	return webhook.NewSecrets(c.AuditWebhookHMACSecrets, c.AuditWebhookBearerSecrets).
		WithAPIKeys(c.AuditWebhookAPIKeyHeader, c.AuditWebhookAPIKeys).
		WithBasic(c.AuditWebhookBasicAuth)
}

// validHeaderName reports whether h is an HTTP token (RFC 9110 field name).
func validHeaderName(h string) bool {
	if h == "" || len(h) > 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// trimAll is values with the spaces envconfig keeps around commas removed,
// and empty ones dropped.
func trimAll(values []string) []string {
	var out []string
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
