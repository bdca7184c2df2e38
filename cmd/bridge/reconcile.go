package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/descope"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/redisstore"
)

// errReconcileErrors is returned when a reconcile run counted errors; the
// report says how many, so main prints nothing more.
var errReconcileErrors = errors.New("reconcile finished with errors")

// runReconcile is `bridge reconcile`: the repair path beside lifecycle
// events. It reads the same environment as the server, pages every Descope
// user and converges each Firebase account the bridge manages, then ends
// the marked accounts whose Descope user is gone. Progress and logs go to
// stderr; the last line of stdout is the JSON report.
func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "change nothing; report what would change")
	migration := fs.Bool("migration-report", false, "report what migration mode will do with each Descope user (link, refuse, new)")
	concurrency := fs.Int("concurrency", 8, "users converged at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("reconcile: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if cfg.DescopeManagementKey == "" {
		return errors.New("config: reconcile reads every Descope user and needs DESCOPE_MANAGEMENT_KEY (a management key from the Descope console)")
	}
	level, _ := cfg.slogLevel()
	log := httpapi.NewLogger(stderr, level)
	if *migration && (cfg.mapping == nil || cfg.mapping.Migration() == nil) {
		return errors.New("reconcile: --migration-report needs migration mode (\"migration\" in IDENTITY_MAPPING)")
	}

	keys := descope.NewKeySource(descope.KeySourceConfig{BaseURL: cfg.DescopeBaseURL, ProjectID: cfg.DescopeProjectID,
		RefreshInterval: cfg.KeysRefreshInterval, UnknownKIDCooldown: cfg.KeysUnknownKIDCooldown,
		MaxStale: cfg.KeysMaxStale, FetchTimeout: cfg.KeysFetchTimeout, Logger: log})
	verifier, err := descope.NewVerifier(descope.VerifierConfig{ProjectID: cfg.DescopeProjectID, BaseURL: cfg.DescopeBaseURL,
		ManagementKey: cfg.DescopeManagementKey, Keys: keys, Leeway: cfg.TokenLeeway, AuthSchema: cfg.authSchema,
		AllowedAudiences: trimAll(cfg.DescopeAllowedAudiences)})
	if err != nil {
		return fmt.Errorf("building descope client: %w", err)
	}
	fbc, err := newFirebase(ctx, cfg, nil)
	if err != nil {
		return err
	}
	mapping := cfg.mapping
	if mapping == nil {
		mapping = bridge.DefaultMapping()
	}
	x := &bridge.Exchanger{Mapping: mapping}
	if mc := mapping.Migration(); mc != nil {
		if x.Migrator, err = newMigrator(*mc, fbc, verifier); err != nil {
			return err
		}
	}

	// Both upstreams are held to the same rates as the server's
	// background work, so a run cannot spend the project's quota.
	descopeLimit := bridge.NewLimiter(cfg.LifecycleDescopeRPS)
	firebaseLimit := bridge.NewLimiter(cfg.LifecycleFirebaseRPS)
	roles := descope.NewRoles(verifier.SDK())
	users := descope.NewUsers(verifier.SDK()).WithRoles(roles).Throttled(descopeLimit)
	var accounts bridge.Accounts = bridge.ThrottledAccounts{Accounts: fbc.Accounts(), Limit: firebaseLimit}
	if *dryRun {
		accounts = bridge.DryRunAccounts{Accounts: accounts}
	}
	// Removed users are told to the service's exchange path through
	// Redis; without it, the accounts themselves (disabled, or disabled
	// placeholders) refuse the sign-in.
	var removed bridge.RemovedUsers
	if cfg.RedisURL != "" && !*dryRun {
		rdb, err := redisstore.Open(cfg.RedisURL, cfg.RedisCAFile)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		defer func() { _ = rdb.Close() }()
		removed = newRemoved(rdb, log, nil)
	}
	r := &bridge.Reconciler{
		Lifecycle:       newLifecycleUseCase(cfg, users, accounts, x, removed),
		Users:           users,
		Accounts:        fbc.Accounts().Listing(mapping.FirebaseTenants(), firebaseLimit),
		Mapping:         mapping,
		MigrationReport: *migration,
		DryRun:          *dryRun,
		Concurrency:     *concurrency,
		Progress: func(p bridge.ReconcileProgress) {
			rate := float64(p.Scanned) / max(p.Elapsed.Seconds(), 0.001)
			eta := "-"
			if p.Total > p.Scanned && rate > 0 {
				eta = (time.Duration(float64(p.Total-p.Scanned)/rate) * time.Second).Round(time.Second).String()
			}
			fmt.Fprintf(stderr, "reconcile: %d/%d users scanned, %.0f users/s, ETA %s\n", p.Scanned, p.Total, rate, eta)
		},
		Failed: func(what string, err error) {
			log.LogAttrs(ctx, slog.LevelError, "reconcile could not converge", slog.String("what", what),
				slog.String("code", string(bridge.CodeOf(err))), slog.String("error", err.Error()))
		},
	}
	rep, err := r.Run(ctx)
	if err != nil {
		return fmt.Errorf("reconciling: %w", err)
	}
	// The report is also a log line, so a log-based metric in Cloud
	// Logging can chart changes by kind across scheduled runs.
	log.LogAttrs(ctx, slog.LevelInfo, "reconcile done", slog.Bool("dry_run", rep.DryRun),
		slog.Int("scanned", rep.Scanned), slog.Int("changed", rep.Changed), slog.Int("errors", rep.Errors),
		slog.Any("changes", rep.Changes), slog.Float64("seconds", rep.Seconds))
	b, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	fmt.Fprintln(stdout, string(b))
	if rep.Errors > 0 {
		return errReconcileErrors
	}
	return nil
}
