package bridge

import (
	"errors"
	"fmt"
	"time"
)

// LifecycleConfig is lifecycle sync's part of the service's configuration:
// what a Descope deletion does, how long removed users stay refused, and
// how hard background work may press on Descope and Firebase.
// DefaultLifecycleConfig holds every default.
type LifecycleConfig struct {
	// OnUserDeleted is what a Descope deletion does to the Firebase
	// account: disable (revoke, then disable) or delete.
	OnUserDeleted string `envconfig:"AUDIT_WEBHOOK_ON_USER_DELETED"`
	// QueueSize bounds the users waiting for a sync; a delivery that does
	// not fit is answered 503 so Descope retries.
	QueueSize int `envconfig:"LIFECYCLE_QUEUE_SIZE"`
	// Workers is how many users are synced at once.
	Workers int `envconfig:"LIFECYCLE_WORKERS"`
	// DescopeRPS and FirebaseRPS hold background work (lifecycle jobs and
	// reconcile) to a rate of management calls per upstream; 0 is no
	// limit.
	DescopeRPS  float64 `envconfig:"LIFECYCLE_DESCOPE_RPS"`
	FirebaseRPS float64 `envconfig:"LIFECYCLE_FIREBASE_RPS"`
	// MaxAttempts is how often a job is tried before it is dropped (logged
	// and counted; reconcile repairs it).
	MaxAttempts int `envconfig:"LIFECYCLE_MAX_ATTEMPTS"`
	// RoleFanOutMax caps the users one role or permission event re-syncs;
	// reconcile converges the rest.
	RoleFanOutMax int `envconfig:"LIFECYCLE_ROLE_FANOUT_MAX"`
	// RemovedTTL is how long a user Descope deleted or disabled stays
	// refused by every exchange and connector call (unless Descope enables
	// them sooner), and how long a deleted user's disabled placeholder
	// stays before reconcile deletes it. It must outlast Descope's
	// session-token timeout plus the custom token's hour.
	RemovedTTL time.Duration `envconfig:"LIFECYCLE_REMOVED_TTL"`
	// ProfileSync is which accounts sync writes email and display name on:
	// created (only accounts the bridge created) or all.
	ProfileSync string `envconfig:"LIFECYCLE_PROFILE_SYNC"`
}

// DefaultLifecycleConfig is the configuration with nothing set: the one
// place each lifecycle default is written.
func DefaultLifecycleConfig() LifecycleConfig {
	return LifecycleConfig{
		OnUserDeleted: "disable",
		QueueSize:     50_000,
		Workers:       8,
		DescopeRPS:    50,
		FirebaseRPS:   200,
		MaxAttempts:   5,
		RoleFanOutMax: 10_000,
		RemovedTTL:    DefaultRemovedTTL,
		ProfileSync:   "created",
	}
}

// Validate checks the settings, each error naming the variable.
func (c *LifecycleConfig) Validate() error {
	switch {
	case c.OnUserDeleted != "disable" && c.OnUserDeleted != "delete":
		return fmt.Errorf("AUDIT_WEBHOOK_ON_USER_DELETED=%q; use disable or delete", Truncate(c.OnUserDeleted, 20))
	case c.QueueSize < 1 || c.Workers < 1 || c.MaxAttempts < 1 || c.RoleFanOutMax < 1:
		return errors.New("LIFECYCLE_QUEUE_SIZE, LIFECYCLE_WORKERS, LIFECYCLE_MAX_ATTEMPTS and LIFECYCLE_ROLE_FANOUT_MAX must each be at least 1")
	case c.DescopeRPS < 0 || c.FirebaseRPS < 0:
		return errors.New("LIFECYCLE_DESCOPE_RPS and LIFECYCLE_FIREBASE_RPS must be 0 (no limit) or more")
	case c.RemovedTTL < 2*time.Hour:
		return errors.New("LIFECYCLE_REMOVED_TTL must be at least 2h (Descope's session-token timeout plus the custom token's hour)")
	case c.ProfileSync != "created" && c.ProfileSync != "all":
		return fmt.Errorf("LIFECYCLE_PROFILE_SYNC=%q; use created or all", Truncate(c.ProfileSync, 20))
	}
	return nil
}
