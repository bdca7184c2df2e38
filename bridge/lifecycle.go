package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// ErrAccountNotFound is what Accounts answers for a Firebase account that
// does not exist.
var ErrAccountNotFound = errors.New("firebase account not found")

// Resolver finds the Firebase identity a session signs in as: the same
// mapping, tenant and migration look-up as an exchange. *Exchanger is one.
type Resolver interface {
	Resolve(ctx context.Context, s *Session) (Identity, error)
}

// AccountRef names a Firebase account: a UID, in a tenant or the project.
type AccountRef struct {
	UID      string
	TenantID string
}

// Account is the state of a Firebase account that lifecycle sync compares.
type Account struct {
	Disabled      bool
	Email         string
	EmailVerified bool
	DisplayName   string
	// Claims are the account's persistent custom claims as JSON decodes
	// them; nil when it has none.
	Claims map[string]any
	// SessionsValidAfter is when its sessions were last revoked (Firebase's
	// tokensValidAfterTime); zero if never.
	SessionsValidAfter time.Time
	// LastSignIn is its last sign-in; zero if it never signed in.
	LastSignIn time.Time
}

// AccountUpdate changes the fields that are set and leaves the rest.
type AccountUpdate struct {
	Disabled      *bool
	Email         *string
	EmailVerified *bool
	DisplayName   *string
}

// Accounts manages Firebase accounts. Every method is idempotent.
type Accounts interface {
	Account(ctx context.Context, ref AccountRef) (*Account, error)
	UpdateAccount(ctx context.Context, ref AccountRef, u AccountUpdate) error
	// SetClaims replaces the account's persistent custom claims.
	SetClaims(ctx context.Context, ref AccountRef, claims map[string]any) error
	// RevokeSessions makes every refresh token issued so far invalid, and
	// every ID token issued so far fail a revocation check.
	RevokeSessions(ctx context.Context, ref AccountRef) error
	DeleteAccount(ctx context.Context, ref AccountRef) error
}

// Outcome names what one lifecycle operation did, for logs, metrics and the
// webhook's answer.
type Outcome string

// Outcomes of lifecycle operations.
const (
	OutcomeDisabled  Outcome = "disabled"
	OutcomeDeleted   Outcome = "deleted"
	OutcomeSynced    Outcome = "synced"
	OutcomeRevoked   Outcome = "revoked"
	OutcomeUnchanged Outcome = "unchanged"
	OutcomeNoAccount Outcome = "no_account"
	// OutcomeEnabled is an account re-enabled because Descope enabled the
	// user again.
	OutcomeEnabled Outcome = "enabled"
	// OutcomeFannedOut is a roles job: the role table was refreshed and
	// the holders of changed roles were queued.
	OutcomeFannedOut Outcome = "fanned_out"
)

// MarkerClaim is the persistent custom claim lifecycle sync writes on every
// account it manages: the Descope user ID. It is how `bridge reconcile`
// maps a Firebase account back to its Descope user whatever the UID
// mapping, and how it tells the bridge's accounts from others in the same
// project (which it never touches). Apps may read it in security rules as
// request.auth.token.dfb.
const MarkerClaim = "dfb"

// RoleDirectory is Descope's role table and the users who hold roles, for
// role and permission events.
type RoleDirectory interface {
	// RefreshRoles reloads the role table now and returns the names of
	// the roles whose permissions differ from the table it replaced
	// (added, removed or changed).
	RefreshRoles(ctx context.Context) ([]string, error)
	// UsersWithRoles returns the IDs of the users who hold any of roles,
	// project-wide or in a tenant, paging through Descope's user search,
	// at most limit of them; more reports whether there were others.
	UsersWithRoles(ctx context.Context, roles []string, limit int) (ids []string, more bool, err error)
}

// Lifecycle keeps Firebase accounts in step with Descope users. It is the use
// case behind Descope's audit events: a deleted Descope user must not keep a
// Firebase session, and a changed one must not keep stale authorization.
//
// Users re-reads users from Descope: the event's payload is never trusted
// for a user's state, because Descope's webhook signature carries no
// timestamp, so a delivery may be old or replayed, and only a fresh read
// says what is true now.
type Lifecycle struct {
	ProjectID  string
	Users      UserLoader
	Accounts   Accounts
	Identities Resolver
	// DeleteAccounts deletes the Firebase account of a deleted Descope user
	// instead of disabling it. A deleted account is re-created by the next
	// sign-in with a custom token, so a still-valid Descope session could
	// bring the user back; disabling (the default) closes that door.
	DeleteAccounts bool

	// Roles and Queue serve roles jobs: the holders of a changed role are
	// queued as user jobs, at most FanOutMax of them per job (the rest are
	// left to reconcile, and logged by the caller through the error).
	Roles     RoleDirectory
	Queue     JobQueue
	FanOutMax int
}

// Run performs one lifecycle job: a user job converges the user's account
// (UserModified, which ends it when Descope no longer has the user); a
// roles job refreshes the role table and queues the holders of the roles
// that changed or that the event named.
func (l *Lifecycle) Run(ctx context.Context, j Job) (Outcome, error) {
	switch j.Kind {
	case JobUser:
		return l.UserModified(ctx, j.UserID, j.LoginIDs, j.Revoke)
	case JobRoles:
		return l.fanOut(ctx, j.Roles)
	}
	return "", Errorf(CodeBadRequest, "unknown job kind %q", j.Kind)
}

// ErrFanOutCapped reports a roles job that found more holders than
// FanOutMax: the first FanOutMax were queued, reconcile converges the rest.
var ErrFanOutCapped = errors.New("role fan-out capped")

func (l *Lifecycle) fanOut(ctx context.Context, named []string) (Outcome, error) {
	if l.Roles == nil || l.Queue == nil {
		return "", Errorf(CodeInternal, "roles job without a role directory and queue")
	}
	changed, err := l.Roles.RefreshRoles(ctx)
	if err != nil {
		return "", err
	}
	roles := union(append([]string(nil), named...), changed)
	if len(roles) == 0 {
		return OutcomeUnchanged, nil
	}
	ids, more, err := l.Roles.UsersWithRoles(ctx, roles, l.FanOutMax)
	if err != nil {
		return "", err
	}
	jobs := make([]Job, 0, len(ids))
	for _, id := range ids {
		jobs = append(jobs, Job{Kind: JobUser, UserID: id})
	}
	if len(jobs) > 0 {
		if err := l.Queue.Enqueue(ctx, jobs); err != nil {
			return "", Wrap(CodeUpstream, err, "queueing the holders of changed roles")
		}
	}
	if more {
		return OutcomeFannedOut, fmt.Errorf("%w: %d holders queued of more, roles %v", ErrFanOutCapped, len(ids), roles)
	}
	return OutcomeFannedOut, nil
}

// UserDeleted ends the Firebase account of a Descope user the event says is
// deleted. Descope is asked first: if it still has the user, the event was
// stale or replayed, and the account is synced to the user instead.
// loginIDs come from the event; a deleted user cannot be read, so they are
// all there is for mappings that key the UID on a login ID.
func (l *Lifecycle) UserDeleted(ctx context.Context, userID string, loginIDs []string) (Outcome, error) {
	u, err := l.Users.LoadUser(ctx, userID)
	switch {
	case err == nil:
		return l.sync(ctx, u, false)
	case !errors.Is(err, ErrUserNotFound):
		return "", err
	}
	return l.endAccount(ctx, &DescopeUser{UserID: userID, LoginIDs: loginIDs})
}

// UserModified re-reads the user and brings the Firebase account in line:
// disabled status, email, display name, persistent claims. It revokes the
// account's sessions when revoke is set, when the user is newly disabled, or
// when the authorization its sessions may carry is not covered by the new
// claims (see mustRevoke). A user Descope no longer has is ended as deleted.
func (l *Lifecycle) UserModified(ctx context.Context, userID string, loginIDs []string, revoke bool) (Outcome, error) {
	u, err := l.Users.LoadUser(ctx, userID)
	switch {
	case errors.Is(err, ErrUserNotFound):
		return l.endAccount(ctx, &DescopeUser{UserID: userID, LoginIDs: loginIDs})
	case err != nil:
		return "", err
	}
	return l.sync(ctx, u, revoke)
}

// account resolves u's Firebase account and reads it.
func (l *Lifecycle) account(ctx context.Context, u *DescopeUser) (AccountRef, Identity, *Account, error) {
	id, err := l.Identities.Resolve(ctx, u.Session(l.ProjectID))
	if err != nil {
		return AccountRef{}, Identity{}, nil, err
	}
	ref := AccountRef{UID: id.UID, TenantID: id.TenantID}
	acct, err := l.Accounts.Account(ctx, ref)
	return ref, id, acct, err
}

// endAccount disables (revoking first) or deletes the account u maps to.
func (l *Lifecycle) endAccount(ctx context.Context, u *DescopeUser) (Outcome, error) {
	ref, _, acct, err := l.account(ctx, u)
	if errors.Is(err, ErrAccountNotFound) {
		return OutcomeNoAccount, nil
	}
	if err != nil {
		return "", err
	}
	return l.endResolved(ctx, ref, acct)
}

// endResolved ends the account ref, whose state is acct.
func (l *Lifecycle) endResolved(ctx context.Context, ref AccountRef, acct *Account) (Outcome, error) {
	if l.DeleteAccounts {
		if err := l.Accounts.DeleteAccount(ctx, ref); err != nil && !errors.Is(err, ErrAccountNotFound) {
			return "", err
		}
		return OutcomeDeleted, nil
	}
	// Sessions are revoked before the account is disabled, so an account
	// found disabled here has had its sessions revoked already.
	if acct.Disabled {
		return OutcomeUnchanged, nil
	}
	if err := l.Accounts.RevokeSessions(ctx, ref); err != nil {
		return "", err
	}
	disabled := true
	if err := l.Accounts.UpdateAccount(ctx, ref, AccountUpdate{Disabled: &disabled}); err != nil {
		return "", err
	}
	return OutcomeDisabled, nil
}

// sync brings the account u maps to in line with u. Revocation comes first
// and the profile last, so that a failure part-way leaves the account no more
// privileged than before and a retry finishes the job.
func (l *Lifecycle) sync(ctx context.Context, u *DescopeUser, revoke bool) (Outcome, error) {
	ref, id, acct, err := l.account(ctx, u)
	if errors.Is(err, ErrAccountNotFound) {
		// The user never signed in through the bridge: nothing to sync,
		// and no account is created for them.
		return OutcomeNoAccount, nil
	}
	if err != nil {
		return "", err
	}
	claims := withMarker(jsonClaims(id.Claims), u.UserID)
	revoke = revoke || (u.Disabled() && !acct.Disabled) || mustRevoke(acct, claims)
	outcome := OutcomeUnchanged
	if revoke {
		if err := l.Accounts.RevokeSessions(ctx, ref); err != nil {
			return "", err
		}
		outcome = OutcomeRevoked
	}
	if !sameClaims(acct.Claims, claims) {
		if err := l.Accounts.SetClaims(ctx, ref, claims); err != nil {
			return "", err
		}
		if outcome == OutcomeUnchanged {
			outcome = OutcomeSynced
		}
	}
	upd, changed := profileUpdate(u, acct)
	if changed {
		if err := l.Accounts.UpdateAccount(ctx, ref, upd); err != nil {
			return "", err
		}
		if outcome == OutcomeUnchanged {
			outcome = OutcomeSynced
		}
	}
	switch {
	case u.Disabled() && !acct.Disabled:
		outcome = OutcomeDisabled
	case !u.Disabled() && acct.Disabled:
		outcome = OutcomeEnabled
	}
	return outcome, nil
}

// withMarker adds MarkerClaim to claims (a copy).
func withMarker(claims map[string]any, userID string) map[string]any {
	out := make(map[string]any, len(claims)+1)
	for k, v := range claims {
		out[k] = v
	}
	out[MarkerClaim] = userID
	return out
}

// profileUpdate is what must change for acct to match u. Email and name are
// only written when Descope has one, so an account that came from another
// provider keeps what Descope does not know.
func profileUpdate(u *DescopeUser, acct *Account) (AccountUpdate, bool) {
	var upd AccountUpdate
	changed := false
	if disabled := u.Disabled(); disabled != acct.Disabled {
		upd.Disabled = &disabled
		changed = true
	}
	if u.Email != "" {
		if !strings.EqualFold(u.Email, acct.Email) {
			upd.Email = &u.Email
			changed = true
		}
		if u.EmailVerified != acct.EmailVerified {
			upd.EmailVerified = &u.EmailVerified
			changed = true
		}
	}
	if u.Name != "" && u.Name != acct.DisplayName {
		upd.DisplayName = &u.Name
		changed = true
	}
	return upd, changed
}

// mustRevoke reports whether sessions minted before a sync may carry
// authorization the new claims no longer grant: a role, permission, tenant
// or any other claim value that is gone or changed. When the account has no
// persistent claims, what its sessions carry is unknown (they came from
// custom tokens), so the answer is yes if it has signed in since its
// sessions were last revoked. (Firebase reads back empty persistent claims
// as none, so "never synced" and "synced, empty" look alike; without this,
// a user whose mapped claims are empty would be signed out by every sync.)
func mustRevoke(acct *Account, next map[string]any) bool {
	if acct.Claims == nil {
		return acct.LastSignIn.After(acct.SessionsValidAfter)
	}
	return !covers(next, acct.Claims)
}

// covers reports whether next grants everything old did: every key of old is
// in next and covers it, every element of an old list is in the next list,
// and any other value is equal.
func covers(next, old any) bool {
	switch o := old.(type) {
	case map[string]any:
		n, ok := next.(map[string]any)
		if !ok {
			return false
		}
		for k, ov := range o {
			nv, ok := n[k]
			if !ok || !covers(nv, ov) {
				return false
			}
		}
		return true
	case []any:
		n, ok := next.([]any)
		if !ok {
			return false
		}
		for _, ov := range o {
			found := false
			for _, nv := range n {
				if reflect.DeepEqual(nv, ov) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(next, old)
}

// sameClaims compares claims as sets: list order does not matter.
func sameClaims(a, b map[string]any) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return covers(a, b) && covers(b, a)
}

// jsonClaims returns claims as JSON decodes them (maps, []any, float64), so
// claims built in Go compare equal to claims read back from Firebase.
func jsonClaims(claims map[string]any) map[string]any {
	if len(claims) == 0 {
		return nil
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return claims
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return claims
	}
	return out
}
