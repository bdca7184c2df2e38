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
// mapping, tenant and migration look-up as an exchange. *Exchange is one.
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
	// Created is when the account was created.
	Created time.Time
	// Providers are the sign-in providers linked to it (password,
	// google.com, ...); none for an account only custom tokens sign in.
	Providers []string
}

// AccountCreate is a new account: its disabled flag and persistent claims.
type AccountCreate struct {
	Disabled bool
	Claims   map[string]any
}

// ErrAccountExists is what CreateAccount answers when the UID is taken.
var ErrAccountExists = errors.New("firebase account already exists")

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
	// CreateAccount creates the account ref with no profile;
	// ErrAccountExists if it exists.
	CreateAccount(ctx context.Context, ref AccountRef, c AccountCreate) error
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
	// OutcomePlaceholder is a disabled placeholder account created for a
	// removed user who had none, so that Firebase refuses their sign-in.
	OutcomePlaceholder Outcome = "placeholder"
	// OutcomeAdopted is the account of a first exchange, created and
	// marked before the app signed in with it.
	OutcomeAdopted Outcome = "adopted"
	// OutcomePurged is a deleted user's placeholder removed by reconcile
	// once LIFECYCLE_REMOVED_TTL had passed.
	OutcomePurged Outcome = "purged"
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
//
// It changes only what the bridge owns (see OwnerClaim): its own claim
// keys (others' are merged, never dropped), the disabled flag only when it
// set it, and email and display name only on accounts it created (or with
// ProfileAll).
type Lifecycle struct {
	ProjectID  string
	Users      UserLoader
	Accounts   Accounts
	Identities Resolver
	// DeleteAccounts deletes the Firebase account of a deleted Descope user
	// instead of disabling it. A deleted account would be re-created by the
	// next sign-in with a custom token minted before, so it is replaced by a
	// disabled placeholder (no profile, no claims but the marker) until
	// RemovedTTL has passed; reconcile deletes the placeholder then.
	DeleteAccounts bool
	// Removed remembers removed users for the exchange path; RemovedTTL
	// (default DefaultRemovedTTL) is how long a mark holds.
	Removed    RemovedUsers
	RemovedTTL time.Duration
	// ProfileAll writes email and display name on every account the bridge
	// manages, not only on those it created.
	ProfileAll bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Roles and Queue serve roles jobs: the holders of a changed role are
	// queued as user jobs, at most FanOutMax of them per job (the rest are
	// left to reconcile, and logged by the caller through the error).
	Roles     RoleDirectory
	Queue     JobQueue
	FanOutMax int
}

// Run performs one lifecycle job: a user job converges the user's account
// (which ends it when Descope no longer has the user, and adopts it when
// the job comes from a first exchange); a roles job refreshes the role
// table and queues the holders of the roles that changed or that the event
// named.
func (l *Lifecycle) Run(ctx context.Context, j Job) (Outcome, error) {
	for _, r := range jobRoutes {
		if r.kind == j.Kind {
			return r.run(l, ctx, j)
		}
	}
	return "", Errorf(CodeBadRequest, "unknown job kind %q", j.Kind)
}

// runUser converges the job's user, adopting the account when the job
// comes from a first exchange.
func (l *Lifecycle) runUser(ctx context.Context, j Job) (Outcome, error) {
	var adoptAt time.Time
	if j.Adopt > 0 {
		adoptAt = time.UnixMilli(j.Adopt)
	}
	return l.converge(ctx, j.UserID, j.LoginIDs, j.Revoke, adoptAt)
}

// runRoles refreshes the role table and queues the holders of the roles
// that changed or that the event named.
func (l *Lifecycle) runRoles(ctx context.Context, j Job) (Outcome, error) {
	return l.fanOut(ctx, j.Roles)
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

// converge re-reads the user and brings the Firebase account in line:
// disabled status, email, display name, persistent claims. It revokes the
// account's sessions when revoke is set, when the user is newly disabled, or
// when the authorization its sessions may carry is not covered by the new
// claims (see mustRevoke). A user Descope no longer has is ended as deleted
// (whatever the event said: Descope is asked, so a stale or replayed
// UserDeleted for a user who exists only syncs). When adoptAt is set the
// bridge minted a token for the user at adoptAt, so the account at its UID
// is the bridge's from its first sign-in (created here if the sign-in has
// not happened yet), and reconcile can tell it apart from others.
func (l *Lifecycle) converge(ctx context.Context, userID string, loginIDs []string, revoke bool, adoptAt time.Time) (Outcome, error) {
	u, err := l.Users.LoadUser(ctx, userID)
	switch {
	case errors.Is(err, ErrUserNotFound):
		return l.endAccount(ctx, &DescopeUser{UserID: userID, LoginIDs: loginIDs})
	case err != nil:
		return "", err
	}
	return l.sync(ctx, u, revoke, adoptAt)
}

func (l *Lifecycle) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Lifecycle) removedTTL() time.Duration {
	if l.RemovedTTL > 0 {
		return l.RemovedTTL
	}
	return DefaultRemovedTTL
}

// markRemoved tells the exchange path that userID is removed.
func (l *Lifecycle) markRemoved(ctx context.Context, userID string) error {
	if l.Removed == nil {
		return nil
	}
	if err := l.Removed.MarkRemoved(ctx, userID, l.removedTTL()); err != nil {
		return Wrap(CodeUpstream, err, "marking removed user")
	}
	return nil
}

// restore lifts userID's removal mark: Descope has the user, enabled.
func (l *Lifecycle) restore(ctx context.Context, userID string) error {
	if l.Removed == nil {
		return nil
	}
	if err := l.Removed.Restore(ctx, userID); err != nil {
		return Wrap(CodeUpstream, err, "lifting removed-user mark")
	}
	return nil
}

// account resolves u's Firebase account and reads it. ref is set whenever
// the identity resolved, also when the account does not exist.
func (l *Lifecycle) account(ctx context.Context, u *DescopeUser) (AccountRef, Identity, *Account, error) {
	id, err := l.Identities.Resolve(ctx, u.Session(l.ProjectID))
	if err != nil {
		return AccountRef{}, Identity{}, nil, err
	}
	ref := AccountRef{UID: id.UID, TenantID: id.TenantID}
	acct, err := l.Accounts.Account(ctx, ref)
	return ref, id, acct, err
}

// endAccount ends the account of a user Descope no longer has: the user is
// marked removed, and the account disabled (revoking first) or replaced by
// a disabled placeholder. A user with no account gets a disabled
// placeholder too, so that a session or custom token issued before cannot
// create an enabled one: Firebase itself refuses the sign-in.
func (l *Lifecycle) endAccount(ctx context.Context, u *DescopeUser) (Outcome, error) {
	if err := l.markRemoved(ctx, u.UserID); err != nil {
		return "", err
	}
	ref, _, acct, err := l.account(ctx, u)
	if errors.Is(err, ErrAccountNotFound) {
		return l.placeholder(ctx, ref, u.UserID, true)
	}
	if err != nil {
		return "", err
	}
	return l.endResolved(ctx, ref, acct, u.UserID)
}

// endResolved ends the account ref, whose state is acct, of the deleted
// Descope user userID.
func (l *Lifecycle) endResolved(ctx context.Context, ref AccountRef, acct *Account, userID string) (Outcome, error) {
	own, _ := ownerOf(acct)
	if own.Until != 0 {
		return OutcomeUnchanged, nil // already a placeholder
	}
	if l.DeleteAccounts {
		if err := l.Accounts.DeleteAccount(ctx, ref); err != nil && !errors.Is(err, ErrAccountNotFound) {
			return "", err
		}
		if _, err := l.placeholder(ctx, ref, userID, true); err != nil {
			return "", err
		}
		return OutcomeDeleted, nil
	}
	// Sessions are revoked before the account is disabled, so an account
	// found disabled here has had its sessions revoked already.
	if acct.Disabled {
		return OutcomeUnchanged, nil
	}
	return l.disable(ctx, ref, acct, userID, ourClaims(acct), own)
}

// disable revokes ref's sessions, records that the bridge disabled it, and
// disables it.
func (l *Lifecycle) disable(ctx context.Context, ref AccountRef, acct *Account, userID string, ours map[string]any, own ownership) (Outcome, error) {
	if err := l.Accounts.RevokeSessions(ctx, ref); err != nil {
		return "", err
	}
	own.Disabled = true
	claims, err := mergeClaims(acct, ours, userID, own)
	if err != nil {
		return "", err
	}
	if err := l.Accounts.SetClaims(ctx, ref, claims); err != nil {
		return "", err
	}
	disabled := true
	if err := l.Accounts.UpdateAccount(ctx, ref, AccountUpdate{Disabled: &disabled}); err != nil {
		return "", err
	}
	return OutcomeDisabled, nil
}

// placeholder creates a disabled account at ref for a removed user who has
// none. For a deleted user it carries the time after which reconcile may
// delete it; for a disabled one it stays until Descope enables the user.
func (l *Lifecycle) placeholder(ctx context.Context, ref AccountRef, userID string, deleted bool) (Outcome, error) {
	own := ownership{Created: true, Disabled: true}
	if deleted {
		own.Until = placeholderUntil(l.now(), l.removedTTL())
	}
	claims := map[string]any{MarkerClaim: userID, OwnerClaim: ownClaim(own)}
	err := l.Accounts.CreateAccount(ctx, ref, AccountCreate{Disabled: true, Claims: claims})
	if errors.Is(err, ErrAccountExists) {
		// A sign-in created it since it was read: converge again.
		return "", Wrap(CodeUpstream, err, "placeholder raced a sign-in")
	}
	if err != nil {
		return "", err
	}
	return OutcomePlaceholder, nil
}

// sync brings the account u maps to in line with u. Revocation comes first
// and the profile last, so that a failure part-way leaves the account no more
// privileged than before and a retry finishes the job.
func (l *Lifecycle) sync(ctx context.Context, u *DescopeUser, revoke bool, adoptAt time.Time) (Outcome, error) {
	if err := l.rememberStatus(ctx, u); err != nil {
		return "", err
	}
	ref, id, acct, err := l.account(ctx, u)
	if errors.Is(err, ErrAccountNotFound) {
		switch {
		case u.Disabled():
			return l.placeholder(ctx, ref, u.UserID, false)
		case !adoptAt.IsZero():
			return l.adopt(ctx, ref, id, u)
		}
		// The user never signed in through the bridge: nothing to sync.
		return OutcomeNoAccount, nil
	}
	if err != nil {
		return "", err
	}
	own := ownershipOf(acct, adoptAt)
	ours := jsonClaims(id.Claims)
	if u.Disabled() && !acct.Disabled {
		return l.disable(ctx, ref, acct, u.UserID, ours, own)
	}
	reenable := !u.Disabled() && acct.Disabled && own.Disabled
	own.Disabled = own.Disabled && !reenable
	claims, err := mergeClaims(acct, ours, u.UserID, own)
	if err != nil {
		return "", err
	}
	// A first exchange's sessions carry what the bridge just minted, so
	// adopting them revokes nothing.
	revoke = revoke || (adoptAt.IsZero() && mustRevoke(acct, ours))
	outcome := OutcomeUnchanged
	if revoke {
		if err := l.Accounts.RevokeSessions(ctx, ref); err != nil {
			return "", err
		}
		outcome = OutcomeRevoked
	}
	upd, changed := l.profileUpdate(u, acct, own)
	if reenable {
		enabled := false
		upd.Disabled, changed = &enabled, true
		outcome = OutcomeEnabled
	}
	return l.write(ctx, ref, acct, outcome, changed, upd, claims)
}

// rememberStatus marks a disabled user removed, and lifts the mark of an
// enabled one.
func (l *Lifecycle) rememberStatus(ctx context.Context, u *DescopeUser) error {
	if u.Disabled() {
		return l.markRemoved(ctx, u.UserID)
	}
	return l.restore(ctx, u.UserID)
}

// ownershipOf is what the bridge owns on acct: its record, or on first
// sight what can be told of it.
func ownershipOf(acct *Account, adoptAt time.Time) ownership {
	own, recorded := ownerOf(acct)
	switch {
	case recorded:
	case !marked(acct):
		// First sight of this account: the bridge created it if it was
		// created by a custom-token sign-in after the bridge minted one.
		own.Created = len(acct.Providers) == 0 && !adoptAt.IsZero() &&
			!acct.Created.Before(adoptAt.Add(-adoptSlack))
	default:
		// Marked before ownership was recorded, when the bridge wrote
		// the profile of every account it marked.
		own.Created = len(acct.Providers) == 0
	}
	return own
}

// write applies the profile update (when changed) and the claims (when
// they differ), last, and says what the sync did.
func (l *Lifecycle) write(ctx context.Context, ref AccountRef, acct *Account, outcome Outcome, changed bool,
	upd AccountUpdate, claims map[string]any) (Outcome, error) {
	if changed {
		if err := l.Accounts.UpdateAccount(ctx, ref, upd); err != nil {
			return "", err
		}
		if outcome == OutcomeUnchanged {
			outcome = OutcomeSynced
		}
	}
	if !sameClaims(acct.Claims, claims) {
		if err := l.Accounts.SetClaims(ctx, ref, claims); err != nil {
			return "", err
		}
		if outcome == OutcomeUnchanged {
			outcome = OutcomeSynced
		}
	}
	return outcome, nil
}

// adoptSlack allows for clock skew between the bridge and Firebase when
// telling an account a first exchange created from an older one.
const adoptSlack = time.Minute

// adopt creates the account of a user whose first exchange the bridge has
// just answered, before (or while) the app signs in with it: from then on
// it carries the marker, the claims and the ownership record.
func (l *Lifecycle) adopt(ctx context.Context, ref AccountRef, id Identity, u *DescopeUser) (Outcome, error) {
	own := ownership{Created: true}
	claims, err := mergeClaims(&Account{}, jsonClaims(id.Claims), u.UserID, own)
	if err != nil {
		return "", err
	}
	err = l.Accounts.CreateAccount(ctx, ref, AccountCreate{Claims: claims})
	if errors.Is(err, ErrAccountExists) {
		// The app signed in first: converge the account it created.
		return "", Wrap(CodeUpstream, err, "adoption raced the first sign-in")
	}
	if err != nil {
		return "", err
	}
	return OutcomeAdopted, nil
}

// profileUpdate is what must change for acct's profile to match u. Email
// and name are written only on accounts the bridge created (or with
// ProfileAll), and only when Descope has one, so an account that came from
// another provider keeps what it has.
func (l *Lifecycle) profileUpdate(u *DescopeUser, acct *Account, own ownership) (AccountUpdate, bool) {
	var upd AccountUpdate
	changed := false
	if !own.Created && !l.ProfileAll {
		return upd, false
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
// or any other claim value of the bridge's that is gone or changed. When
// the account has none of the bridge's persistent claims recorded, what its
// sessions carry is unknown (they came from custom tokens), so the answer
// is yes if it has signed in since its sessions were last revoked.
// (Firebase reads back empty persistent claims as none, so "never synced"
// and "synced, empty" look alike; without this, a user whose mapped claims
// are empty would be signed out by every sync.)
func mustRevoke(acct *Account, next map[string]any) bool {
	if !marked(acct) {
		return acct.LastSignIn.After(acct.SessionsValidAfter)
	}
	return !covers(next, ourClaims(acct))
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
