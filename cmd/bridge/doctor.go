package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/firebase"
	"github.com/dfbridge/dfbridge/redisstore"
)

// waivableCheck is the one check DOCTOR_WAIVE may name.
const waivableCheck = "firebase_accepts_tokens"

// errDoctorFailed is returned when a check failed; the report says which.
var errDoctorFailed = errors.New("doctor: a check failed")

// checkTimeout bounds each check, so doctor never hangs.
const checkTimeout = 8 * time.Second

// doctorCheck is one line of the report.
type doctorCheck struct {
	Check  string `json:"check"`
	Status string `json:"status"` // ok, fail or skip
	Detail string `json:"detail"`
	// Fix names the variable or IAM role to change, on a failure.
	Fix string `json:"fix,omitempty"`
}

func ok(name, detail string, a ...any) doctorCheck {
	return doctorCheck{Check: name, Status: "ok", Detail: fmt.Sprintf(detail, a...)}
}

func skip(name, detail string) doctorCheck {
	return doctorCheck{Check: name, Status: "skip", Detail: detail}
}

func fail(name string, err error, fix string, a ...any) doctorCheck {
	return doctorCheck{Check: name, Status: "fail", Detail: err.Error(), Fix: fmt.Sprintf(fix, a...)}
}

// runDoctor is `bridge doctor [--json]`: with the service's own
// environment, it checks every external dependency for real, the way the
// service will use it, and prints one line per check. It exits 0 only
// when no check failed.
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as one JSON document")
	envFile := fs.String("env", "", "read KEY=value lines from this file into the environment first (the local stack writes one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *envFile != "" {
		if err := loadEnvFile(*envFile); err != nil {
			return err
		}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("doctor: unexpected argument %q", fs.Arg(0))
	}
	var checks []doctorCheck
	cfg, err := loadConfig()
	switch misses := nearMisses(os.Environ()); {
	case err != nil:
		checks = []doctorCheck{fail("config", err, "the variable the line names")}
	case len(misses) > 0:
		checks = []doctorCheck{fail("config", errors.New(strings.Join(misses, "; ")), "rename the variable")}
	default:
		checks = doctor(ctx, cfg)
	}
	return report(checks, *asJSON, stdout)
}

// loadEnvFile sets each KEY=value line of path in the process environment
// (envconfig reads only that); blank lines and # comments are skipped.
func loadEnvFile(path string) error {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the operator names this file
	if err != nil {
		return fmt.Errorf("doctor: --env: %w", err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return fmt.Errorf("doctor: --env %s line %d is not KEY=value", path, i+1)
		}
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("doctor: --env %s line %d: %w", path, i+1, err)
		}
	}
	return nil
}

// report prints checks and says whether any failed.
func report(checks []doctorCheck, asJSON bool, out io.Writer) error {
	failed := false
	for _, c := range checks {
		failed = failed || c.Status == "fail"
	}
	if asJSON {
		b, err := json.MarshalIndent(map[string]any{"ok": !failed, "checks": checks}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(out, string(b))
	} else {
		for _, c := range checks {
			line := fmt.Sprintf("%-4s  %-24s %s", c.Status, c.Check, c.Detail)
			if c.Fix != "" {
				line += " | fix: " + c.Fix
			}
			fmt.Fprintln(out, line)
		}
	}
	if failed {
		return errDoctorFailed
	}
	return nil
}

// doctor runs every check against cfg, each bounded by checkTimeout.
func doctor(ctx context.Context, cfg *Config) []doctorCheck {
	bounded := func(f func(context.Context) doctorCheck) doctorCheck {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		defer cancel()
		return f(cctx)
	}
	keys := bounded(func(ctx context.Context) doctorCheck { return checkDescopeKeys(ctx, cfg) })
	checks := []doctorCheck{
		keys,
		bounded(func(ctx context.Context) doctorCheck { return checkManagementKey(ctx, cfg, keys) }),
	}
	fbc, err := cfg.Firebase.NewClient(ctx, cfg.hooks)
	if err != nil {
		checks = append(checks, fail("signer", err, "the signing settings: GOOGLE_APPLICATION_CREDENTIALS, "+
			"FIREBASE_SERVICE_ACCOUNT_JSON, or keyless (FIREBASE_SERVICE_ACCOUNT_EMAIL, the metadata server)"))
	} else {
		signer := bounded(func(ctx context.Context) doctorCheck { return checkSigner(ctx, cfg, fbc) })
		checks = append(checks, signer)
		if signer.Status == "ok" {
			checks = append(checks, bounded(func(ctx context.Context) doctorCheck { return checkTokenAccepted(ctx, cfg, fbc) }))
		} else {
			checks = append(checks, skip("firebase_accepts_tokens", "no signer to mint with"))
		}
		checks = append(checks, bounded(func(ctx context.Context) doctorCheck { return checkTenants(ctx, cfg, fbc) }))
	}
	checks = append(checks,
		bounded(func(ctx context.Context) doctorCheck { return checkRedis(ctx, cfg) }),
		checkWebhooks(cfg),
		checkCORS(cfg),
		checkCloudRun(cfg),
	)
	return checks
}

func checkDescopeKeys(ctx context.Context, cfg *Config) doctorCheck {
	d := cfg.Descope
	d.KeysFetchTimeout = checkTimeout
	keys := d.NewKeySource(slog.New(slog.DiscardHandler), nil)
	if err := keys.Refresh(ctx); err != nil {
		if unreachable(err) {
			return fail("descope_keys", err, "DESCOPE_BASE_URL (%s): Descope's API, https://api.descope.com unless your project is elsewhere", cfg.Descope.BaseURL)
		}
		return fail("descope_keys", err, "DESCOPE_PROJECT_ID (Descope console → Project settings)")
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	_ = json.Unmarshal(keys.JWKS(), &set)
	return ok("descope_keys", "%d signing key(s) for %s; sessions must carry iss %q or a URL ending in /%s",
		len(set.Keys), cfg.Descope.ProjectID, cfg.Descope.ProjectID, cfg.Descope.ProjectID)
}

// unreachable reports whether err means the address could not be talked
// to at all (so the fix is the URL, not a credential).
func unreachable(err error) bool {
	m := strings.ToLower(err.Error())
	for _, s := range []string{"dial", "no such host", "connection refused", "timeout", "deadline", "tls", "certificate",
		"unsupported protocol"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

func checkManagementKey(ctx context.Context, cfg *Config, keys doctorCheck) doctorCheck {
	if cfg.Descope.ManagementKey == "" {
		return skip("descope_management_key", "not set; only the webhooks, reconcile and DESCOPE_RESOLVE_PERMISSIONS need one")
	}
	if keys.Status != "ok" {
		// A key is judged against a project at an address: with either
		// wrong, it would fail too, and point at the wrong setting.
		return skip("descope_management_key", "not tried: the project or its address is wrong (see descope_keys)")
	}
	v, err := cfg.Descope.NewVerifier(cfg.Descope.NewKeySource(slog.New(slog.DiscardHandler), nil))
	if err != nil {
		return fail("descope_management_key", err, "DESCOPE_MANAGEMENT_KEY")
	}
	roles, err := v.SDK().Management.Role().LoadAll(ctx)
	if err != nil {
		return fail("descope_management_key", err, "DESCOPE_MANAGEMENT_KEY: a management key of project %s "+
			"(Descope console → Company → Management keys)", cfg.Descope.ProjectID)
	}
	return ok("descope_management_key", "reads the project's role table (%d roles)", len(roles))
}

func checkSigner(ctx context.Context, cfg *Config, fbc *firebase.Client) doctorCheck {
	switch fbc.Mode() {
	case firebase.ModeEmulator:
		return ok("signer", "Auth emulator at %s: unsigned tokens, never in production", cfg.Firebase.AuthEmulatorHost)
	case firebase.ModeKey:
		if err := fbc.SelfTest(ctx); err != nil {
			return fail("signer", err, "GOOGLE_APPLICATION_CREDENTIALS or FIREBASE_SERVICE_ACCOUNT_JSON: a key of the Firebase project")
		}
		return ok("signer", "key file of %s signs for Firebase project %s", cfg.Firebase.KeyAccount(), cfg.Firebase.Project())
	}
	account := fbc.Account()
	if err := fbc.SelfTest(ctx); err != nil {
		msg := err.Error()
		if strings.Contains(msg, "403") || strings.Contains(strings.ToLower(msg), "permission") {
			return fail("signer", err, "grant roles/iam.serviceAccountTokenCreator on %s to %s itself: gcloud iam service-accounts "+
				"add-iam-policy-binding %s --member=serviceAccount:%s --role=roles/iam.serviceAccountTokenCreator",
				account, account, account, account)
		}
		return fail("signer", err, "enable iamcredentials.googleapis.com, and check FIREBASE_SERVICE_ACCOUNT_EMAIL (%s)", account)
	}
	return ok("signer", "keyless: IAM signBlob as %s signed a probe", account)
}

// identityToolkit is where signInWithCustomToken is called: the emulator's
// when there is one, else Google's.
func identityToolkit(cfg *Config) string {
	switch {
	case cfg.identityToolkitBase != "":
		return cfg.identityToolkitBase
	case cfg.Firebase.AuthEmulatorHost != "":
		return "http://" + cfg.Firebase.AuthEmulatorHost + "/identitytoolkit.googleapis.com"
	}
	return "https://identitytoolkit.googleapis.com"
}

// checkTokenAccepted mints a custom token for a probe account, signs in
// with it at Identity Toolkit, and deletes the probe with its own ID token
// (no Firebase role needed for either).
func checkTokenAccepted(ctx context.Context, cfg *Config, fbc *firebase.Client) doctorCheck {
	const name = waivableCheck
	if cfg.Firebase.WebAPIKey == "" {
		const how = "set FIREBASE_WEB_API_KEY (Firebase console → Project settings → Web API key) to prove Firebase accepts the tokens"
		// In production the strongest check must run, or be waived by name.
		if cfg.Server.CloudRunService != "" && !slices.Contains(cfg.Server.DoctorWaive, name) {
			return fail(name, errors.New("FIREBASE_WEB_API_KEY is not set, so doctor cannot prove Firebase accepts the tokens"),
				"FIREBASE_WEB_API_KEY (Firebase console → Project settings → Web API key), or DOCTOR_WAIVE=%s to skip this check knowingly", name)
		}
		return skip(name, how)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	uid := "dfbridge-doctor-" + hex.EncodeToString(rnd[:])
	ct, err := fbc.Minter().Mint(ctx, bridge.Identity{UID: uid})
	if err != nil {
		return fail(name, err, "the signer (see the signer check)")
	}
	base := identityToolkit(cfg)
	var signedIn struct {
		IDToken string `json:"idToken"`
	}
	if err := toolkitCall(ctx, base+"/v1/accounts:signInWithCustomToken?key="+cfg.Firebase.WebAPIKey,
		map[string]any{"token": ct.Token, "returnSecureToken": true}, &signedIn); err != nil {
		return fail(name, err, "FIREBASE_WEB_API_KEY must be project %s's Web API key, and the tokens must be signed by a "+
			"service account of that project (or set FIREBASE_KEY_OTHER_PROJECT only if it is granted)", cfg.Firebase.Project())
	}
	if err := toolkitCall(ctx, base+"/v1/accounts:delete?key="+cfg.Firebase.WebAPIKey,
		map[string]any{"idToken": signedIn.IDToken}, nil); err != nil {
		return fail(name, fmt.Errorf("signed in, but the probe account %s could not be deleted: %w", uid, err),
			"delete %s by hand (Firebase console → Authentication)", uid)
	}
	return ok(name, "Identity Toolkit signed a probe account in with a minted token (then deleted it) in project %s", cfg.Firebase.Project())
}

// toolkitCall posts body to an Identity Toolkit URL and decodes the answer
// into out; an error answer becomes its message (never the token).
func toolkitCall(ctx context.Context, url string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("calling Identity Toolkit: %w", redactKey(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return fmt.Errorf("identity toolkit answered %d %s", resp.StatusCode, e.Error.Message)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// redactKey drops the URL (which holds the API key) from a client error.
func redactKey(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap()
	}
	return err
}

func checkTenants(ctx context.Context, cfg *Config, fbc *firebase.Client) doctorCheck {
	var tenants []string
	if cfg.mapping != nil {
		tenants = cfg.mapping.FirebaseTenants()
	}
	if len(tenants) == 0 {
		return ok("tenants", "IDENTITY_MAPPING names no Identity Platform tenant")
	}
	missing, err := fbc.MissingTenants(ctx, tenants)
	if err != nil {
		return fail("tenants", err, "identitytoolkit.tenants.list for the service account: deploy.sh adds it to its custom role when IDENTITY_MAPPING names tenants")
	}
	if len(missing) > 0 {
		return fail("tenants", fmt.Errorf("IDENTITY_MAPPING names tenants the project does not have: %s", strings.Join(missing, ", ")),
			"create them (Identity Platform → Tenants) or fix IDENTITY_MAPPING")
	}
	return ok("tenants", "every tenant IDENTITY_MAPPING names exists: %s", strings.Join(tenants, ", "))
}

func checkRedis(ctx context.Context, cfg *Config) doctorCheck {
	if cfg.Redis.URL == "" {
		return skip("redis", "REDIS_URL not set: each instance keeps its own limits, marks and lifecycle queue")
	}
	redisstore.RouteLogs(slog.New(slog.DiscardHandler)) // the check's own line says it all
	rdb, err := redisstore.Open(cfg.Redis.URL, cfg.Redis.CAFile)
	if err != nil {
		return fail("redis", err, "REDIS_URL")
	}
	defer func() { _ = rdb.Close() }()
	tls := rdb.Options().TLSConfig != nil
	start := time.Now()
	if err := rdb.Ping(ctx).Err(); err != nil {
		fix := "REDIS_URL: the address, and Direct VPC egress to it on Cloud Run"
		if m := err.Error(); strings.Contains(m, "NOAUTH") || strings.Contains(m, "WRONGPASS") || strings.Contains(m, "AUTH") {
			fix = "the AUTH string in REDIS_URL (rediss://:AUTH@host:port/0)"
		} else if strings.Contains(strings.ToLower(m), "certificate") || strings.Contains(m, "tls") {
			fix = "REDIS_CA_FILE (the server CA), and rediss:// in REDIS_URL"
		}
		return fail("redis", err, "%s", fix)
	}
	rtt := time.Since(start)
	if err := redisstore.NewQueue(rdb, 1, 1).Prepare(ctx); err != nil {
		return fail("redis", fmt.Errorf("creating the lifecycle queue's consumer group: %w", err), "REDIS_URL: a Redis 5+ that allows XGROUP")
	}
	security := "TLS"
	if !tls {
		security = "plaintext (use rediss:// with Memorystore's in-transit encryption)"
	}
	return ok("redis", "%s answered in %.1f ms over %s, AUTH accepted, lifecycle consumer group ready", rdb.Options().Addr,
		float64(rtt.Microseconds())/1000, security)
}

func checkWebhooks(cfg *Config) doctorCheck {
	var routes []string
	if cfg.externalTokenEnabled() {
		routes = append(routes, "/webhook/external-token ("+strings.Join(cfg.Webhook.ExternalTokenSecrets().Types(), "+")+")")
	}
	if cfg.auditWebhookEnabled() {
		routes = append(routes, "/webhook/audit ("+strings.Join(cfg.Webhook.AuditSecrets().Types(), "+")+")")
	}
	if len(routes) == 0 {
		return ok("webhooks", "no webhook route: the connector and lifecycle sync are off")
	}
	return ok("webhooks", "%s", strings.Join(routes, ", "))
}

func checkCORS(cfg *Config) doctorCheck {
	if len(cfg.Edge.CORSAllowedOrigins) == 0 {
		return ok("cors", "off: no browser origin may call the API (native apps need none)")
	}
	return ok("cors", "browsers at %s", strings.Join(cfg.Edge.CORSAllowedOrigins, ", "))
}

func checkCloudRun(cfg *Config) doctorCheck {
	if cfg.Server.CloudRunService == "" {
		return skip("cloud_run", "not on Cloud Run (K_SERVICE unset)")
	}
	switch cfg.Edge.TrustedProxyHops {
	case 1:
		return ok("cloud_run", "service %s, called directly: client addresses from Cloud Run's front end (TRUSTED_PROXY_HOPS=1)", cfg.Server.CloudRunService)
	case 2:
		return ok("cloud_run", "service %s behind an external Application Load Balancer: client addresses from the load balancer, "+
			"as Cloud Run's front end passes them on (TRUSTED_PROXY_HOPS=2)", cfg.Server.CloudRunService)
	}
	return fail("cloud_run", fmt.Errorf("TRUSTED_PROXY_HOPS=%d on Cloud Run service %s", cfg.Edge.TrustedProxyHops, cfg.Server.CloudRunService),
		"TRUSTED_PROXY_HOPS: 1 when apps call the service's own URL, 2 behind an external Application Load Balancer")
}
