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
	"github.com/dfbridge/dfbridge/httpapi"
)

// errReconcileErrors is returned when a reconcile run counted errors; the
// report says how many, so main prints nothing more.
var errReconcileErrors = errors.New("reconcile finished with errors")

// reconcileFlags are `bridge reconcile`'s options.
type reconcileFlags struct {
	dryRun, migration bool
	concurrency       int
}

func parseReconcileFlags(args []string, stderr io.Writer) (reconcileFlags, error) {
	var f reconcileFlags
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&f.dryRun, "dry-run", false, "change nothing; report what would change")
	fs.BoolVar(&f.migration, "migration-report", false, "report what migration mode will do with each Descope user (link, refuse, new)")
	fs.IntVar(&f.concurrency, "concurrency", 8, "users converged at once")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("reconcile: unexpected argument %q", fs.Arg(0))
	}
	return f, nil
}

// runReconcile is `bridge reconcile`: the repair path beside lifecycle
// events. It reads the same environment as the server, pages every Descope
// user and converges each Firebase account the bridge manages, then ends
// the marked accounts whose Descope user is gone. Progress and logs go to
// stderr; the last line of stdout is the JSON report.
func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags, err := parseReconcileFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	r, done, err := prepareReconcile(ctx, cfg, flags, stderr)
	if err != nil {
		return err
	}
	defer done()
	rep, err := r.Run(ctx)
	if err != nil {
		return fmt.Errorf("reconciling: %w", err)
	}
	return reportReconcile(ctx, r.log, stdout, rep)
}

// reconcileRun is a reconciler with the log it reports to.
type reconcileRun struct {
	*bridge.Reconciler
	log *slog.Logger
}

// prepareReconcile builds the reconciler from cfg; done releases what it
// opened.
func prepareReconcile(ctx context.Context, cfg *Config, flags reconcileFlags, stderr io.Writer) (reconcileRun, func(), error) {
	done := func() {}
	if cfg.Descope.ManagementKey == "" {
		return reconcileRun{}, done, errors.New("config: reconcile reads every Descope user and needs DESCOPE_MANAGEMENT_KEY (a management key from the Descope console)")
	}
	if flags.migration && cfg.mapping.Migration() == nil {
		return reconcileRun{}, done, errors.New("reconcile: --migration-report needs migration mode (\"migration\" in IDENTITY_MAPPING)")
	}
	level, _ := cfg.Server.slogLevel()
	log := httpapi.NewLogger(stderr, level)
	c, err := buildCore(ctx, cfg, log, nil)
	if err != nil {
		return reconcileRun{}, done, err
	}
	// Removed users are told to the service's exchange path through
	// Redis; without it, the accounts themselves (disabled, or disabled
	// placeholders) refuse the sign-in.
	var removed bridge.RemovedUsers
	if !flags.dryRun {
		rdb, err := openRedis(cfg, log)
		if err != nil {
			return reconcileRun{}, done, err
		}
		if rdb != nil {
			done = func() { _ = rdb.Close() }
			removed = newRemoved(rdb, log, nil)
		}
	}
	return reconcileRun{newReconciler(c, flags, removed, stderr), log}, done, nil
}

// newReconciler is the repair path over the same background access as
// lifecycle sync (the same rates), writing nothing on a dry run.
func newReconciler(c *core, flags reconcileFlags, removed bridge.RemovedUsers, stderr io.Writer) *bridge.Reconciler {
	access := c.backgroundAccess()
	var accounts bridge.Accounts = access.accounts
	if flags.dryRun {
		accounts = bridge.DryRunAccounts{Accounts: accounts}
	}
	mapping := c.exchange.Mapping
	return &bridge.Reconciler{
		Lifecycle:       c.lifecycleUseCase(access.users, accounts, removed),
		Users:           access.users,
		Accounts:        c.firebase.Accounts().Listing(mapping.FirebaseTenants(), access.accounts.Limit),
		Mapping:         mapping,
		MigrationReport: flags.migration,
		DryRun:          flags.dryRun,
		Concurrency:     flags.concurrency,
		Progress:        func(p bridge.ReconcileProgress) { progress(stderr, p) },
		Failed: func(what string, err error) {
			c.log.Error("reconcile could not converge", "what", what,
				"code", string(bridge.CodeOf(err)), "error", err.Error())
		},
	}
}

// progress writes one progress line.
func progress(w io.Writer, p bridge.ReconcileProgress) {
	rate := float64(p.Scanned) / max(p.Elapsed.Seconds(), 0.001)
	eta := "-"
	if p.Total > p.Scanned && rate > 0 {
		eta = (time.Duration(float64(p.Total-p.Scanned)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(w, "reconcile: %d/%d users scanned, %.0f users/s, ETA %s\n", p.Scanned, p.Total, rate, eta)
}

// reportReconcile logs the run's report and prints it as the last line of stdout.
func reportReconcile(ctx context.Context, log *slog.Logger, stdout io.Writer, rep *bridge.ReconcileReport) error {
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
