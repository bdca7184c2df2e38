package bridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/bridge/bridgetest"
	"github.com/dfbridge/dfbridge/flow"
)

// reconcileFixture is five Descope users and a Firebase project holding a
// marked account whose Descope user is gone and an account that is not
// the bridge's.
func reconcileFixture(t *testing.T, dryRun, report bool) (*bridge.Reconciler, *bridgetest.Accounts) {
	t.Helper()
	users := bridgetest.NewUsers(
		bridge.DescopeUser{UserID: "Ulink", Email: "a@example.com", EmailVerified: true, Roles: []string{"viewer"}},
		bridge.DescopeUser{UserID: "Uunverified", Email: "b@example.com"},
		bridge.DescopeUser{UserID: "Uambiguous", Email: "c@example.com", EmailVerified: true},
		bridge.DescopeUser{UserID: "Udisabled", Email: "d@example.com", EmailVerified: true},
		bridge.DescopeUser{UserID: "Unew", Email: "e@example.com", EmailVerified: true},
	)
	dir := directory{}
	dir.add("", "a@example.com", bridge.DirectoryUser{UID: "legacyA", EmailVerified: true})
	dir.add("", "b@example.com", bridge.DirectoryUser{UID: "legacyB", EmailVerified: true})
	dir.add("", "c@example.com", bridge.DirectoryUser{UID: "legacyC1", EmailVerified: true})
	dir.add("", "c@example.com", bridge.DirectoryUser{UID: "legacyC2", EmailVerified: true})
	dir.add("", "d@example.com", bridge.DirectoryUser{UID: "legacyD", EmailVerified: true, Disabled: true})
	mc := bridge.MigrationConfig{ByEmail: true, CacheTTL: time.Minute, CacheSize: 10}
	memos, err := flow.NewMigrationMemos(mc)
	require.NoError(t, err)
	m, err := bridge.NewMigrator(mc, dir, nil, memos)
	require.NoError(t, err)

	accounts := bridgetest.NewAccounts()
	accounts.Put(bridge.AccountRef{UID: "legacyA"}, bridge.Account{Email: "a@example.com", EmailVerified: true})
	accounts.Put(bridge.AccountRef{UID: "gone"}, bridge.Account{Claims: map[string]any{bridge.MarkerClaim: "Ugone", "roles": []any{"admin"}}})
	accounts.Put(bridge.AccountRef{UID: "someone-else"}, bridge.Account{Email: "x@example.com"})
	var acc bridge.Accounts = accounts
	if dryRun {
		acc = bridge.DryRunAccounts{Accounts: accounts}
	}
	return &bridge.Reconciler{
		Lifecycle: &bridge.Lifecycle{ProjectID: "P1", Users: users, Accounts: acc,
			Identities: &bridge.Exchange{Mapping: bridge.DefaultMapping(), Migrator: m}},
		Users: users, Accounts: accounts, Mapping: bridge.DefaultMapping(),
		MigrationReport: report, DryRun: dryRun,
	}, accounts
}

func TestReconcile(t *testing.T) {
	t.Run("a dry run reports what would change and changes nothing", func(t *testing.T) {
		r, accounts := reconcileFixture(t, true, false)
		rep, err := r.Run(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 5, rep.Scanned)
		assert.Equal(t, 3, rep.Accounts)
		assert.Equal(t, map[string]int{"synced": 1, "disabled": 1}, rep.Changes, "legacyA adopted, the orphan ended")
		assert.Equal(t, 2, rep.Changed)
		assert.Equal(t, 1, rep.Unmanaged, "the account that is not the bridge's")
		a, _ := accounts.Get(bridge.AccountRef{UID: "gone"})
		assert.False(t, a.Disabled)
		a, _ = accounts.Get(bridge.AccountRef{UID: "legacyA"})
		assert.Nil(t, a.Claims)
	})

	t.Run("a run converges, and a second changes nothing", func(t *testing.T) {
		r, accounts := reconcileFixture(t, false, false)
		rep, err := r.Run(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 2, rep.Changed)
		gone, _ := accounts.Get(bridge.AccountRef{UID: "gone"})
		assert.True(t, gone.Disabled)
		assert.Equal(t, 1, gone.Revocations)
		linked, _ := accounts.Get(bridge.AccountRef{UID: "legacyA"})
		assert.Equal(t, map[string]any{bridge.MarkerClaim: "Ulink", "roles": []any{"viewer"},
			bridge.OwnerClaim: map[string]any{"k": []any{"roles"}}}, linked.Claims,
			"the bridge's claims and the record of which keys are its own; not created by the bridge")
		other, _ := accounts.Get(bridge.AccountRef{UID: "someone-else"})
		assert.Nil(t, other.Claims, "an unmanaged account is never touched")

		again, err := r.Run(context.Background())
		require.NoError(t, err)
		assert.Zero(t, again.Changed)
		assert.Zero(t, again.Errors)
	})

	t.Run("the migration report says link, refuse (why) or new, per user", func(t *testing.T) {
		r, _ := reconcileFixture(t, true, true)
		rep, err := r.Run(context.Background())
		require.NoError(t, err)
		require.NotNil(t, rep.Migration)
		assert.Equal(t, 1, rep.Migration.Link)
		assert.Equal(t, 1, rep.Migration.New)
		assert.Equal(t, map[string]int{
			string(bridge.CodeEmailNotVerified): 1, string(bridge.CodeAmbiguousAccount): 1, string(bridge.CodeUserDisabled): 1,
		}, rep.Migration.Refused)
		assert.Equal(t, 3, rep.Skipped, "the refused users cannot be placed")
	})
}

// directory is an in-memory bridge.UserDirectory of the project's accounts
// by email.
type directory map[string][]bridge.DirectoryUser

func (d directory) add(_, email string, u bridge.DirectoryUser) { d[email] = append(d[email], u) }

func (d directory) FindByEmail(_ context.Context, _, email string) ([]bridge.DirectoryUser, error) {
	return d[email], nil
}
