package bridge

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"
)

// JobKind says what a lifecycle job converges.
type JobKind string

// Job kinds. A user job converges one Descope user's Firebase account; a
// roles job refreshes the role table and re-syncs the holders of the roles
// that changed.
const (
	JobUser  JobKind = "user"
	JobRoles JobKind = "roles"
)

// jobRoutes is the path of an audit event in one table: each Descope audit
// action the bridge acts on (Descope's audit event reference), the job
// kind it becomes, and the Lifecycle method that runs that kind. An action
// missing here is counted as "other" and ignored; a new one is one line.
var jobRoutes = []struct {
	kind    JobKind
	run     func(*Lifecycle, context.Context, Job) (Outcome, error)
	actions map[string]ActionEffect
}{
	{JobUser, (*Lifecycle).runUser, map[string]ActionEffect{
		"UserDeleted": {}, "UsersDeleted": {}, "UserModified": {}, "UsersModified": {},
		"LoginExceedMaxAttempts": {Revokes: true},
	}},
	{JobRoles, (*Lifecycle).runRoles, map[string]ActionEffect{
		"RoleCreated": {}, "RoleModified": {}, "RoleDeleted": {}, "RolesDeleted": {},
		"PermissionCreated": {}, "PermissionModified": {}, "PermissionDeleted": {}, "PermissionsDeleted": {},
	}},
}

// ActionEffect is what an audit action asks beyond its job kind.
type ActionEffect struct {
	// Revokes asks the job to revoke the user's sessions whatever else it
	// finds (when the service is configured to: AUDIT_WEBHOOK_REVOKE_ON_MAX_ATTEMPTS).
	Revokes bool
}

// JobFor is the job kind a Descope audit action becomes, and its effect;
// ok is false for an action the bridge does not act on.
func JobFor(action string) (kind JobKind, effect ActionEffect, ok bool) {
	for _, r := range jobRoutes {
		if e, found := r.actions[action]; found {
			return r.kind, e, true
		}
	}
	return "", ActionEffect{}, false
}

// Job is one unit of background lifecycle work. It carries no state to
// trust: running it re-reads the truth from Descope, so a job is idempotent,
// and two jobs for one user are one job (Merge).
type Job struct {
	Kind JobKind `json:"kind"`
	// UserID is the Descope user of a user job.
	UserID string `json:"userId,omitempty"`
	// LoginIDs are the login IDs the event named; a deleted user cannot be
	// read, so they are all there is for mappings keyed on a login ID.
	LoginIDs []string `json:"loginIds,omitempty"`
	// Revoke asks for the account's sessions to be revoked whatever else
	// the sync finds (LoginExceedMaxAttempts, by config).
	Revoke bool `json:"revoke,omitempty"`
	// Adopt, in Unix milliseconds, is when the bridge answered the user's
	// exchange: the job adopts the account at the user's UID (see
	// Lifecycle.Run). Zero for every other job.
	Adopt int64 `json:"adopt,omitempty"`
	// Roles are the role names a role or permission event named; the job
	// also re-syncs the holders of every role the refresh finds changed.
	Roles []string `json:"roles,omitempty"`
}

// Key identifies the work a job does: jobs with one key coalesce.
func (j Job) Key() string {
	if j.Kind == JobRoles {
		return "roles"
	}
	return "user:" + j.UserID
}

// Merge folds o, a job with the same key, into j.
func (j *Job) Merge(o Job) {
	// An adoption trusts that the account's sessions carry what the bridge
	// just minted; merged with an event, that no longer holds, so the
	// merged job revokes (the app exchanges again).
	j.Revoke = j.Revoke || o.Revoke || (j.Adopt == 0) != (o.Adopt == 0)
	j.Adopt = max(j.Adopt, o.Adopt)
	j.LoginIDs = union(j.LoginIDs, o.LoginIDs)
	j.Roles = union(j.Roles, o.Roles)
}

func union(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}

// Errors a JobQueue answers Enqueue with. Both mean "not accepted": the
// webhook answers 503 so that Descope retries the delivery.
var (
	ErrQueueFull        = errors.New("lifecycle queue is full")
	ErrQueueUnavailable = errors.New("lifecycle queue is unavailable")
	ErrQueueClosed      = errors.New("lifecycle queue is shutting down")
)

// JobQueue takes lifecycle jobs for background work. Enqueue accepts all of
// jobs or none (ErrQueueFull, ErrQueueUnavailable, ErrQueueClosed), so a
// delivery is either taken whole or retried whole. A job for a key already
// waiting merges into it.
type JobQueue interface {
	Enqueue(ctx context.Context, jobs []Job) error
}

// JobHandler runs one job to completion. It returns nil when the account has
// converged (or the job can never succeed, which it logs and counts), and an
// error worth retrying otherwise.
type JobHandler func(ctx context.Context, j Job) error

// Retry is a retry policy with full-jitter exponential backoff.
type Retry struct {
	// Attempts is how many times a call is tried in all (at least 1).
	Attempts int
	// Base is the first backoff ceiling; each retry doubles it, up to Max.
	Base, Max time.Duration
}

// DefaultRetry suits Firebase's and Descope's 429s and 5xx: five tries over
// about six seconds at most.
var DefaultRetry = Retry{Attempts: 5, Base: 200 * time.Millisecond, Max: 3 * time.Second}

// Do calls f until it succeeds, returns an error Retryable says no retry
// can fix, the attempts run out or ctx ends. It returns f's last error.
func (r Retry) Do(ctx context.Context, f func(context.Context) error) error {
	var err error
	for attempt := 0; attempt < max(r.Attempts, 1); attempt++ {
		if attempt > 0 {
			if werr := sleep(ctx, r.Backoff(attempt)); werr != nil {
				return err
			}
		}
		if err = f(ctx); err == nil || !Retryable(err) {
			return err
		}
	}
	return err
}

// Backoff is the wait before retry n (n ≥ 1): uniform in [0, min(Max,
// Base·2ⁿ⁻¹)], so many workers that failed together do not retry together.
func (r Retry) Backoff(n int) time.Duration {
	ceiling := r.Base << min(n-1, 20)
	if r.Max > 0 && (ceiling > r.Max || ceiling <= 0) {
		ceiling = r.Max
	}
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1) //nolint:gosec // G404: backoff jitter needs spread, not secrecy
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Retryable reports whether a later try may succeed where this one failed:
// an upstream failure (Firebase or Descope answered 429 or 5xx, or could
// not be reached), an internal one, or a timeout. A cancelled context is
// not: the caller is going away.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch CodeOf(err) {
	case CodeUpstream, CodeKeysUnavailable, CodeInternal, CodeSigningFailed, CodeSigningUnavailable:
		return true
	}
	return false
}
