package bridge

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// UserPager pages through every Descope user.
type UserPager interface {
	// EachUserPage calls f with each page of users, in a stable order,
	// until none are left or f fails. total is Descope's count of users,
	// for progress.
	EachUserPage(ctx context.Context, f func(users []*DescopeUser, total int) error) error
}

// AccountLister walks the Firebase accounts of the project.
type AccountLister interface {
	EachAccount(ctx context.Context, f func(ref AccountRef, acct *Account) error) error
}

// ReconcileReport is what a reconcile run found and did. It is printed as
// one JSON line, the last of the command's output.
type ReconcileReport struct {
	DryRun bool `json:"dryRun"`
	// Scanned counts Descope users read.
	Scanned int `json:"scanned"`
	// Accounts counts Firebase accounts walked.
	Accounts int `json:"accounts"`
	// Changed counts accounts changed (or, in a dry run, that would be).
	Changed int `json:"changed"`
	// Changes counts them by kind: disabled, enabled, revoked, synced,
	// deleted (Descope user gone, account ended), placeholder (a removed
	// user with no account got a disabled one), purged (a deleted user's
	// placeholder removed once LIFECYCLE_REMOVED_TTL had passed).
	Changes map[string]int `json:"changes"`
	// Samples lists up to five UIDs per kind of change, so that a dry run
	// on an existing project can be checked account by account.
	Samples map[string][]string `json:"samples,omitempty"`
	// Unchanged counts accounts already in step; NoAccount, Descope users
	// who never signed in through the bridge.
	Unchanged int `json:"unchanged"`
	NoAccount int `json:"noAccount"`
	// Unmanaged counts Firebase accounts that carry no marker and match no
	// Descope user: not the bridge's, left alone.
	Unmanaged int `json:"unmanaged"`
	// Errors counts users or accounts that could not be converged; each is
	// logged. Skipped counts users the mapping cannot place (no valid UID,
	// unmapped tenant): no run can fix those.
	Errors  int `json:"errors"`
	Skipped int `json:"skipped"`
	// Migration is the migration report, with --migration-report.
	Migration *MigrationReport `json:"migration,omitempty"`
	Seconds   float64          `json:"seconds"`
}

// MigrationReport says, before users sign in, what migration mode will do
// with each Descope user: link to an existing Firebase account by verified
// email, refuse (by reason: the error code an exchange would get), or
// create a new account.
type MigrationReport struct {
	Link    int            `json:"link"`
	New     int            `json:"new"`
	Refused map[string]int `json:"refused"`
}

// ReconcileProgress is a progress report, sent every few seconds.
type ReconcileProgress struct {
	Scanned, Total int
	Elapsed        time.Duration
}

// Reconciler is the repair path beside lifecycle events: it converges every
// Firebase account the bridge manages with Descope, as a lifecycle event
// would, whatever deliveries were missed. It is idempotent: a second run
// right after the first changes nothing.
type Reconciler struct {
	Lifecycle *Lifecycle
	Users     UserPager
	Accounts  AccountLister
	// Mapping places users without the migration look-up, to tell a link
	// from a new account in the migration report.
	Mapping *Mapping
	// MigrationReport adds the report; it needs Lifecycle.Identities to be
	// an Exchange with a Migrator.
	MigrationReport bool
	DryRun          bool
	// Concurrency bounds the users converged at once (default 8).
	Concurrency int
	// Progress, when set, is called every ProgressEvery (default 2 s).
	Progress      func(ReconcileProgress)
	ProgressEvery time.Duration
	// Failed, when set, is told of each user or account that failed.
	Failed func(what string, err error)
}

// reconcileRun is one run's shared state.
type reconcileRun struct {
	start time.Time
	rep   *ReconcileReport
	conc  int
	mu    sync.Mutex
	// known are the accounts of Descope users (by UID and tenant), and
	// users the Descope user IDs seen: a marked account outside both is an
	// orphan, unless Descope still has its user (created mid-run).
	known map[AccountRef]bool
	users map[string]bool
}

func (run *reconcileRun) record(f func()) { run.mu.Lock(); f(); run.mu.Unlock() }

// Run reconciles once and reports: every Descope user's account first,
// then the marked accounts no Descope user accounts for.
func (r *Reconciler) Run(ctx context.Context) (*ReconcileReport, error) {
	run := &reconcileRun{start: time.Now(), rep: &ReconcileReport{DryRun: r.DryRun, Changes: map[string]int{}},
		conc: r.Concurrency, known: map[AccountRef]bool{}, users: map[string]bool{}}
	if r.MigrationReport {
		run.rep.Migration = &MigrationReport{Refused: map[string]int{}}
	}
	if run.conc <= 0 {
		run.conc = 8
	}
	if err := r.scanUsers(ctx, run); err != nil {
		return nil, err
	}
	if err := r.sweepAccounts(ctx, run); err != nil {
		return nil, err
	}
	run.rep.Seconds = time.Since(run.start).Seconds()
	return run.rep, nil
}

// scanUsers converges every Descope user's account, a page at a time.
func (r *Reconciler) scanUsers(ctx context.Context, run *reconcileRun) error {
	every := r.ProgressEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	rep, lastProgress := run.rep, time.Now()
	err := r.Users.EachUserPage(ctx, func(page []*DescopeUser, total int) error {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(run.conc)
		for _, u := range page {
			g.Go(func() error {
				r.reconcileUser(gctx, u, rep, run.record, run.known)
				return nil
			})
			run.record(func() { run.users[u.UserID] = true })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		rep.Scanned += len(page)
		if r.Progress != nil && time.Since(lastProgress) >= every {
			lastProgress = time.Now()
			r.Progress(ReconcileProgress{Scanned: rep.Scanned, Total: total, Elapsed: time.Since(run.start)})
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	if r.Progress != nil {
		r.Progress(ReconcileProgress{Scanned: rep.Scanned, Total: rep.Scanned, Elapsed: time.Since(run.start)})
	}
	return nil
}

// sweepAccounts ends orphans (marked accounts whose Descope user is gone)
// and purges placeholders whose time is up.
func (r *Reconciler) sweepAccounts(ctx context.Context, run *reconcileRun) error {
	rep := run.rep
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(run.conc)
	apply := func(ref AccountRef, f func(context.Context) (Outcome, error)) error {
		g.Go(func() error {
			out, err := f(gctx)
			run.record(func() { r.count(rep, out, err, "account "+ref.UID); r.sample(rep, out, err, ref.UID) })
			return nil
		})
		return gctx.Err()
	}
	err := r.Accounts.EachAccount(ctx, func(ref AccountRef, acct *Account) error {
		rep.Accounts++
		if run.known[ref] {
			return nil
		}
		userID, marked := acct.Claims[MarkerClaim].(string)
		switch own, _ := ownerOf(acct); {
		case !marked || userID == "":
			rep.Unmanaged++
			return nil
		case own.Until != 0:
			// A deleted user's placeholder: it goes once its time is up.
			return apply(ref, func(ctx context.Context) (Outcome, error) { return r.purge(ctx, ref, own) })
		case run.users[userID]:
			// The user exists but now maps elsewhere (a changed
			// mapping); not an orphan, and not ours to end.
			rep.Unmanaged++
			return nil
		}
		return apply(ref, func(ctx context.Context) (Outcome, error) { return r.endOrphan(ctx, userID, ref, acct) })
	})
	if werr := g.Wait(); err == nil {
		err = werr
	}
	return err
}

// reconcileUser converges u's account, if it has one.
func (r *Reconciler) reconcileUser(ctx context.Context, u *DescopeUser, rep *ReconcileReport, record func(func()), known map[AccountRef]bool) {
	l := r.Lifecycle
	s := u.Session(l.ProjectID)
	if rep.Migration != nil {
		r.classify(ctx, s, rep, record)
	}
	id, err := l.Identities.Resolve(ctx, s)
	if err != nil {
		record(func() { r.count(rep, "", err, "user "+u.UserID) })
		return
	}
	ref := AccountRef{UID: id.UID, TenantID: id.TenantID}
	record(func() { known[ref] = true })
	out, err := l.sync(ctx, u, false, time.Time{})
	record(func() { r.sample(rep, out, err, ref.UID) })
	record(func() { r.count(rep, out, err, "user "+u.UserID) })
}

// endOrphan ends a marked account whose Descope user the scan did not see,
// once Descope confirms the user is gone.
func (r *Reconciler) endOrphan(ctx context.Context, userID string, ref AccountRef, acct *Account) (Outcome, error) {
	l := r.Lifecycle
	_, err := l.Users.LoadUser(ctx, userID)
	switch {
	case err == nil:
		return OutcomeUnchanged, nil // created since the scan began
	case !errors.Is(err, ErrUserNotFound):
		return "", err
	}
	if err := l.markRemoved(ctx, userID); err != nil {
		return "", err
	}
	return l.endResolved(ctx, ref, acct, userID)
}

// purge deletes a deleted user's placeholder once its time is up.
func (r *Reconciler) purge(ctx context.Context, ref AccountRef, own ownership) (Outcome, error) {
	if r.Lifecycle.now().Unix() < own.Until {
		return OutcomeUnchanged, nil
	}
	if err := r.Lifecycle.Accounts.DeleteAccount(ctx, ref); err != nil && !errors.Is(err, ErrAccountNotFound) {
		return "", err
	}
	return OutcomePurged, nil
}

// maxSamples is how many UIDs a report lists per kind of change.
const maxSamples = 5

// sample adds uid to the report's samples of its kind of change; call it
// under the lock.
func (r *Reconciler) sample(rep *ReconcileReport, out Outcome, err error, uid string) {
	if err != nil || out == OutcomeUnchanged || out == OutcomeNoAccount || out == "" {
		return
	}
	if rep.Samples == nil {
		rep.Samples = map[string][]string{}
	}
	if len(rep.Samples[string(out)]) < maxSamples {
		rep.Samples[string(out)] = append(rep.Samples[string(out)], uid)
	}
}

// classify adds s to the migration report.
func (r *Reconciler) classify(ctx context.Context, s *Session, rep *ReconcileReport, record func(func())) {
	id, err := r.Lifecycle.Identities.Resolve(ctx, s)
	if err != nil {
		if Retryable(err) {
			return // counted as an error by the sync that follows
		}
		record(func() { rep.Migration.Refused[string(CodeOf(err))]++ })
		return
	}
	plain, perr := r.Mapping.Map(s)
	record(func() {
		if perr == nil && plain.UID != id.UID {
			rep.Migration.Link++
		} else {
			rep.Migration.New++
		}
	})
}

// count adds one outcome (or failure) to rep; call it under the lock.
func (r *Reconciler) count(rep *ReconcileReport, out Outcome, err error, what string) {
	switch {
	case err != nil && Retryable(err):
		rep.Errors++
		if r.Failed != nil {
			r.Failed(what, err)
		}
	case err != nil:
		rep.Skipped++
		if r.Failed != nil {
			r.Failed(what, err)
		}
	case out == OutcomeUnchanged:
		rep.Unchanged++
	case out == OutcomeNoAccount:
		rep.NoAccount++
	default:
		rep.Changed++
		rep.Changes[string(out)]++
	}
}

// DryRunAccounts wraps Accounts so that every write is skipped: a dry run
// reads everything and reports what it would change.
type DryRunAccounts struct{ Accounts }

// UpdateAccount implements Accounts; it changes nothing.
func (DryRunAccounts) UpdateAccount(context.Context, AccountRef, AccountUpdate) error { return nil }

// SetClaims implements Accounts; it changes nothing.
func (DryRunAccounts) SetClaims(context.Context, AccountRef, map[string]any) error { return nil }

// RevokeSessions implements Accounts; it changes nothing.
func (DryRunAccounts) RevokeSessions(context.Context, AccountRef) error { return nil }

// DeleteAccount implements Accounts; it changes nothing.
func (DryRunAccounts) DeleteAccount(context.Context, AccountRef) error { return nil }

// CreateAccount implements Accounts; it changes nothing.
func (DryRunAccounts) CreateAccount(context.Context, AccountRef, AccountCreate) error { return nil }
