package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sync/singleflight"
)

// DirectoryUser is an existing Firebase account, as migration needs it.
type DirectoryUser struct {
	UID           string
	EmailVerified bool
	Disabled      bool
}

// UserDirectory finds existing Firebase accounts. It returns every account
// holding the email (normally zero or one; more when the project allows
// several accounts per email), or an error when it cannot tell.
type UserDirectory interface {
	FindByEmail(ctx context.Context, tenantID, email string) ([]DirectoryUser, error)
}

// ErrUserNotFound is what a UserLoader returns for a user Descope does not
// know (deleted since the session was issued).
var ErrUserNotFound = errors.New("user not found")

// UserLoader reads a user from Descope's management API.
type UserLoader interface {
	LoadUser(ctx context.Context, userID string) (*DescopeUser, error)
}

// Migrator finds the Firebase account a Descope user already has, so moving
// sign-in to Descope keeps UIDs (and with them Firestore data, Storage paths
// and rules). Look-ups are cached for a bounded time and count, and
// concurrent look-ups of one key are merged, so a sign-in storm does not
// become a Firebase or Descope request storm.
type Migrator struct {
	cfg   MigrationConfig
	dir   UserDirectory
	users UserLoader

	flight  singleflight.Group
	accts   Memo[[]DirectoryUser]
	profile Memo[EmailFact]
}

// EmailFact is what Descope says about a user's email.
type EmailFact struct {
	Email    string
	Verified bool
}

// Memo is a bounded memory of look-up answers that forgets them after a
// while (flow.NewMemo is the one the service uses): the Migrator remembers
// answers in it, so a sign-in storm is not a look-up storm.
type Memo[V any] interface {
	Get(key string) (V, bool)
	Add(key string, v V) (evicted bool)
}

// MigrationMemos are the Migrator's memories: Firebase accounts by tenant
// and email, and Descope's email facts by user.
type MigrationMemos struct {
	Accounts Memo[[]DirectoryUser]
	Emails   Memo[EmailFact]
}

// NewMigrator builds a Migrator. dir is required when cfg.ByEmail; users
// when cfg.EmailFromDescope.
func NewMigrator(cfg MigrationConfig, dir UserDirectory, users UserLoader, memos MigrationMemos) (*Migrator, error) {
	if cfg.ByEmail && dir == nil {
		return nil, errors.New("migration by email needs a user directory")
	}
	if cfg.EmailFromDescope && users == nil {
		return nil, errors.New("migration.emailFromDescope needs a Descope user loader (DESCOPE_MANAGEMENT_KEY)")
	}
	if memos.Accounts == nil || memos.Emails == nil {
		return nil, errors.New("migration needs its memos (flow.NewMigrationMemos)")
	}
	return &Migrator{
		cfg:     cfg,
		dir:     dir,
		users:   users,
		accts:   memos.Accounts,
		profile: memos.Emails,
	}, nil
}

// Resolve returns the UID of s's existing Firebase account in tenantID, or
// "" when it has none and the normal strategy applies. The explicit claim
// wins; else a verified email that matches exactly one account links to
// it. A match that is unverified (on either side), ambiguous or disabled is
// refused with its own code: never linked, never silently given a new UID.
func (r *Migrator) Resolve(ctx context.Context, s *Session, tenantID string) (string, error) {
	if r.cfg.UIDClaim != "" {
		if raw, present := s.Claims[r.cfg.UIDClaim]; present && raw != nil {
			uid, ok := raw.(string)
			if !ok {
				return "", Errorf(CodeInvalidClaims, "migration claim %q is not a string", r.cfg.UIDClaim)
			}
			if uid != "" {
				if err := CheckUID(uid); err != nil {
					return "", err
				}
				return uid, nil
			}
		}
	}
	if !r.cfg.ByEmail {
		return "", nil
	}
	email, verified := s.Email, s.EmailVerified
	if (email == "" || !verified) && r.cfg.EmailFromDescope {
		f, err := r.descopeEmail(ctx, s.UserID)
		if err != nil {
			return "", err
		}
		if f.Email != "" {
			email, verified = f.Email, f.Verified
		}
	}
	email = NormalizeEmail(email)
	if !plausibleEmail(email) {
		return "", nil
	}
	matches, err := r.accounts(ctx, tenantID, email)
	if err != nil {
		return "", err
	}
	switch {
	case len(matches) == 0:
		return "", nil
	case len(matches) > 1:
		return "", Errorf(CodeAmbiguousAccount, "%d firebase accounts hold the session's email", len(matches))
	case !verified:
		return "", Errorf(CodeEmailNotVerified, "an account holds the session's email, which Descope has not verified")
	case r.cfg.RequireVerifiedAccountEmail && !matches[0].EmailVerified:
		return "", Errorf(CodeAccountEmailNotVerified, "firebase account %s has an unverified email", matches[0].UID)
	case matches[0].Disabled:
		return "", Errorf(CodeUserDisabled, "firebase account %s is disabled", matches[0].UID)
	}
	if err := CheckUID(matches[0].UID); err != nil {
		return "", err
	}
	return matches[0].UID, nil
}

// accounts looks an email up in the directory, through the cache. Errors
// are not cached; empty answers are, since new users are the common case.
func (r *Migrator) accounts(ctx context.Context, tenantID, email string) ([]DirectoryUser, error) {
	key := tenantID + "\x00" + email
	if v, ok := r.accts.Get(key); ok {
		return v, nil
	}
	v, err, _ := r.flight.Do("a\x00"+key, func() (any, error) {
		// A caller that missed the cache just as an earlier flight landed
		// finds its answer here instead of asking again.
		if v, ok := r.accts.Get(key); ok {
			return v, nil
		}
		// Merged callers share this call: one client going away must not
		// fail the others.
		found, err := r.dir.FindByEmail(context.WithoutCancel(ctx), tenantID, email)
		if err != nil {
			return nil, err
		}
		r.accts.Add(key, found)
		return found, nil
	})
	if err != nil {
		return nil, upstream(err, "looking up firebase accounts by email")
	}
	return v.([]DirectoryUser), nil
}

// descopeEmail loads the user's email from Descope, through the cache. A
// user Descope no longer knows has no email to link by.
func (r *Migrator) descopeEmail(ctx context.Context, userID string) (EmailFact, error) {
	if v, ok := r.profile.Get(userID); ok {
		return v, nil
	}
	v, err, _ := r.flight.Do("d\x00"+userID, func() (any, error) {
		if v, ok := r.profile.Get(userID); ok {
			return v, nil
		}
		u, err := r.users.LoadUser(context.WithoutCancel(ctx), userID)
		var f EmailFact
		switch {
		case errors.Is(err, ErrUserNotFound):
		case err != nil:
			return nil, err
		default:
			f = EmailFact{Email: u.Email, Verified: u.EmailVerified}
		}
		r.profile.Add(userID, f)
		return f, nil
	})
	if err != nil {
		return EmailFact{}, upstream(err, "loading the user from descope")
	}
	return v.(EmailFact), nil
}

// upstream keeps an adapter's own code (it may know better) and marks
// anything else as an upstream failure.
func upstream(err error, doing string) error {
	var be *Error
	if errors.As(err, &be) {
		return err
	}
	return Wrap(CodeUpstream, err, doing)
}

// plausibleEmail is the shape Firebase's look-up accepts: one @ with text on
// both sides. Anything else cannot match an account.
func plausibleEmail(email string) bool {
	local, domain, ok := strings.Cut(email, "@")
	return ok && local != "" && domain != "" && !strings.Contains(domain, "@") && len(email) <= 320
}

// String describes the migration settings for start-up logs.
func (c *MigrationConfig) String() string {
	return fmt.Sprintf("uidClaim=%q byEmail=%t emailFromDescope=%t requireVerifiedAccountEmail=%t cacheTtl=%s cacheSize=%d",
		c.UIDClaim, c.ByEmail, c.EmailFromDescope, c.RequireVerifiedAccountEmail, c.CacheTTL, c.CacheSize)
}
