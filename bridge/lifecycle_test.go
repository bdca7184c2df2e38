package bridge_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/bridge/bridgetest"
	"github.com/dfbridge/dfbridge/flow"
)

const project = "Ptest"

var ref = bridge.AccountRef{UID: "U1"}

func lifecycle(users *bridgetest.Users, accounts *bridgetest.Accounts, deleteAccounts bool) *bridge.Lifecycle {
	return &bridge.Lifecycle{
		ProjectID:      project,
		Users:          users,
		Accounts:       accounts,
		Identities:     &bridge.Exchange{Mapping: bridge.DefaultMapping()},
		DeleteAccounts: deleteAccounts,
	}
}

func TestUserDeleted(t *testing.T) {
	live := bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}}
	cases := []struct {
		name         string
		descope      []bridge.DescopeUser
		account      *bridge.Account
		deleteAccts  bool
		want         bridge.Outcome
		wantExists   bool
		wantDisabled bool
		wantRevoked  int
	}{
		{
			name:         "a deleted user's account is revoked, then disabled",
			account:      &bridge.Account{Claims: map[string]any{"roles": []any{"viewer"}}},
			want:         bridge.OutcomeDisabled,
			wantExists:   true,
			wantDisabled: true,
			wantRevoked:  1,
		},
		{
			name:         "an account already disabled is left as it is",
			account:      &bridge.Account{Disabled: true},
			want:         bridge.OutcomeUnchanged,
			wantExists:   true,
			wantDisabled: true,
		},
		{
			name:         "with delete configured the account is deleted and a disabled placeholder takes its UID",
			account:      &bridge.Account{Email: "a@example.com", Claims: map[string]any{"roles": []any{"viewer"}}},
			deleteAccts:  true,
			want:         bridge.OutcomeDeleted,
			wantExists:   true,
			wantDisabled: true,
		},
		{
			name:         "a user who never signed in gets a disabled placeholder, so no old session can create an enabled account",
			want:         bridge.OutcomePlaceholder,
			wantExists:   true,
			wantDisabled: true,
		},
		{
			name:         "with delete configured, a user who never signed in gets a disabled placeholder too",
			deleteAccts:  true,
			want:         bridge.OutcomePlaceholder,
			wantExists:   true,
			wantDisabled: true,
		},
		{
			name:        "a user Descope still has is synced, not ended (a stale or replayed event)",
			descope:     []bridge.DescopeUser{live},
			account:     &bridge.Account{Claims: marked(map[string]any{"roles": []any{"viewer"}, bridge.OwnerClaim: map[string]any{"k": []any{"roles"}}})},
			want:        bridge.OutcomeUnchanged,
			wantExists:  true,
			wantRevoked: 0,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			accounts := bridgetest.NewAccounts()
			if tc.account != nil {
				accounts.Put(ref, *tc.account)
			}
			lc := lifecycle(bridgetest.NewUsers(tc.descope...), accounts, tc.deleteAccts)

			got, err := lc.Run(context.Background(), bridge.Job{Kind: bridge.JobUser, UserID: "U1", LoginIDs: []string{"u1@example.com"}})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			acct, exists := accounts.Get(ref)
			assert.Equal(t, tc.wantExists, exists)
			assert.Equal(t, tc.wantDisabled, acct.Disabled)
			assert.Equal(t, tc.wantRevoked, acct.Revocations)
			if tc.want == bridge.OutcomePlaceholder || tc.want == bridge.OutcomeDeleted {
				assert.Empty(t, acct.Email, "a placeholder holds no profile")
				assert.Equal(t, "U1", acct.Claims[bridge.MarkerClaim])
				assert.NotContains(t, acct.Claims, "roles", "a placeholder holds no claims but the bridge's marker and record")
			}
		})
	}
}

func TestUserModified(t *testing.T) {
	viewerClaims := map[string]any{"roles": []any{"viewer"}}
	cases := []struct {
		name         string
		user         bridge.DescopeUser
		account      bridge.Account
		forceRevoke  bool
		want         bridge.Outcome
		wantClaims   map[string]any
		wantRevoked  int
		wantDisabled bool
		wantEmail    string
		wantName     string
	}{
		{
			name:        "a removed role is revoked and the claims shrink",
			user:        bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}},
			account:     bridge.Account{Claims: map[string]any{"roles": []any{"admin", "viewer"}}},
			want:        bridge.OutcomeRevoked,
			wantClaims:  viewerClaims,
			wantRevoked: 1,
		},
		{
			name:        "a removed tenant permission is revoked",
			user:        bridge.DescopeUser{UserID: "U1", Tenants: map[string]bridge.TenantAccess{"T1": {Roles: []string{"member"}}}},
			account:     bridge.Account{Claims: map[string]any{"tenants": map[string]any{"T1": map[string]any{"roles": []any{"member"}, "permissions": []any{"billing.read"}}}}},
			want:        bridge.OutcomeRevoked,
			wantClaims:  map[string]any{"tenants": map[string]any{"T1": map[string]any{"roles": []any{"member"}}}},
			wantRevoked: 1,
		},
		{
			name:       "an added role is written without revoking",
			user:       bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer", "editor"}},
			account:    bridge.Account{Claims: viewerClaims},
			want:       bridge.OutcomeSynced,
			wantClaims: map[string]any{"roles": []any{"viewer", "editor"}},
		},
		{
			name:       "the same roles in another order change nothing",
			user:       bridge.DescopeUser{UserID: "U1", Roles: []string{"b", "a"}},
			account:    bridge.Account{Claims: map[string]any{"roles": []any{"a", "b"}}},
			want:       bridge.OutcomeUnchanged,
			wantClaims: map[string]any{"roles": []any{"a", "b"}},
		},
		{
			name:        "an account with no persistent claims yet is revoked: its sessions' claims are unknown",
			user:        bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}},
			account:     bridge.Account{LastSignIn: time.Now().Add(-time.Hour)},
			want:        bridge.OutcomeRevoked,
			wantClaims:  viewerClaims,
			wantRevoked: 1,
		},
		{
			name:        "a signed-in user with no mapped claims is revoked once, then left signed in",
			user:        bridge.DescopeUser{UserID: "U1", Name: "Ada"},
			account:     bridge.Account{DisplayName: "Ada", LastSignIn: time.Now().Add(-time.Hour)},
			want:        bridge.OutcomeRevoked,
			wantRevoked: 1,
			wantName:    "Ada",
		},
		{
			name:     "a user with no mapped claims revoked since their last sign-in is not revoked again (only marked)",
			user:     bridge.DescopeUser{UserID: "U1", Name: "Ada"},
			account:  bridge.Account{DisplayName: "Ada", LastSignIn: time.Now().Add(-time.Hour), SessionsValidAfter: time.Now().Add(-time.Minute)},
			want:     bridge.OutcomeSynced,
			wantName: "Ada",
		},
		{
			name:     "an account that never signed in has no sessions to revoke (only marked)",
			user:     bridge.DescopeUser{UserID: "U1", Name: "Ada"},
			account:  bridge.Account{DisplayName: "Ada"},
			want:     bridge.OutcomeSynced,
			wantName: "Ada",
		},
		{
			name:         "a user disabled in Descope is revoked and disabled",
			user:         bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}, Status: "disabled"},
			account:      bridge.Account{Claims: viewerClaims},
			want:         bridge.OutcomeDisabled,
			wantClaims:   viewerClaims,
			wantRevoked:  1,
			wantDisabled: true,
		},
		{
			name:       "a user enabled again in Descope is enabled again when the bridge disabled the account",
			user:       bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}},
			account:    bridge.Account{Disabled: true, Claims: withRecord(viewerClaims, map[string]any{"k": []any{"roles"}, "d": true})},
			want:       bridge.OutcomeEnabled,
			wantClaims: viewerClaims,
		},
		{
			name:         "an account a Firebase admin disabled stays disabled though Descope says enabled",
			user:         bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}},
			account:      bridge.Account{Disabled: true, Claims: withRecord(viewerClaims, map[string]any{"k": []any{"roles"}})},
			want:         bridge.OutcomeUnchanged,
			wantClaims:   viewerClaims,
			wantDisabled: true,
		},
		{
			name:        "a claim set beside the bridge's survives a role change",
			user:        bridge.DescopeUser{UserID: "U1", Roles: []string{"editor"}},
			account:     bridge.Account{Claims: withRecord(map[string]any{"roles": []any{"editor", "viewer"}, "stripeRole": "pro"}, map[string]any{"k": []any{"roles"}})},
			want:        bridge.OutcomeRevoked,
			wantClaims:  map[string]any{"roles": []any{"editor"}, "stripeRole": "pro"},
			wantRevoked: 1,
		},
		{
			name:       "email and name are not written on an account linked from another provider",
			user:       bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}, Email: "new@example.com", Name: "Ada"},
			account:    bridge.Account{Claims: withRecord(viewerClaims, map[string]any{"k": []any{"roles"}}), Email: "old@example.com", DisplayName: "A", Providers: []string{"password"}},
			want:       bridge.OutcomeUnchanged,
			wantClaims: viewerClaims,
			wantEmail:  "old@example.com",
			wantName:   "A",
		},
		{
			name:       "email, verification and name follow Descope on an account the bridge created",
			user:       bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}, Email: "new@example.com", EmailVerified: true, Name: "Ada"},
			account:    bridge.Account{Claims: withRecord(viewerClaims, map[string]any{"k": []any{"roles"}, "c": true}), Email: "old@example.com", DisplayName: "A"},
			want:       bridge.OutcomeSynced,
			wantClaims: viewerClaims,
			wantEmail:  "new@example.com",
			wantName:   "Ada",
		},
		{
			name:       "an email differing only in case is not rewritten",
			user:       bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}, Email: "Ada@Example.com"},
			account:    bridge.Account{Claims: viewerClaims, Email: "ada@example.com"},
			want:       bridge.OutcomeUnchanged,
			wantClaims: viewerClaims,
			wantEmail:  "ada@example.com",
		},
		{
			name:       "a name Descope does not have is kept",
			user:       bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}},
			account:    bridge.Account{Claims: viewerClaims, DisplayName: "From the old provider"},
			want:       bridge.OutcomeUnchanged,
			wantClaims: viewerClaims,
			wantName:   "From the old provider",
		},
		{
			name:        "a forced revocation (too many failed logins) revokes unchanged claims",
			user:        bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}},
			account:     bridge.Account{Claims: viewerClaims},
			forceRevoke: true,
			want:        bridge.OutcomeRevoked,
			wantClaims:  viewerClaims,
			wantRevoked: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			accounts := bridgetest.NewAccounts()
			// Claims on an account are what an earlier sync wrote, marker
			// included.
			if _, recorded := tc.account.Claims[bridge.OwnerClaim]; tc.account.Claims != nil && !recorded {
				keys := []any{}
				for _, k := range slices.Sorted(maps.Keys(tc.account.Claims)) {
					keys = append(keys, k)
				}
				tc.account.Claims = withRecord(tc.account.Claims, map[string]any{"k": keys})
			}
			accounts.Put(ref, tc.account)
			lc := lifecycle(bridgetest.NewUsers(tc.user), accounts, false)

			got, err := lc.Run(context.Background(), bridge.Job{Kind: bridge.JobUser, UserID: "U1", Revoke: tc.forceRevoke})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			acct, ok := accounts.Get(ref)
			require.True(t, ok)
			assert.Equal(t, marked(tc.wantClaims), bridgetest.WithoutOwnerRecord(acct.Claims), "the claims, marked with the Descope user ID")
			assert.Equal(t, tc.wantRevoked, acct.Revocations)
			assert.Equal(t, tc.wantDisabled, acct.Disabled)
			assert.Equal(t, tc.wantEmail, acct.Email)
			assert.Equal(t, tc.wantName, acct.DisplayName)

			again, err := lc.Run(context.Background(), bridge.Job{Kind: bridge.JobUser, UserID: "U1"})
			require.NoError(t, err)
			assert.Equal(t, bridge.OutcomeUnchanged, again, "a second sync of the same state changes nothing")
			after, _ := accounts.Get(ref)
			assert.Equal(t, acct, after)
		})
	}
}

func TestAnAccountMarkedBeforeOwnershipWasRecordedGetsARecord(t *testing.T) {
	accounts := bridgetest.NewAccounts()
	accounts.Put(ref, bridge.Account{Claims: marked(map[string]any{"roles": []any{"viewer"}})})
	lc := lifecycle(bridgetest.NewUsers(bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}}), accounts, false)

	got, err := lc.Run(context.Background(), bridge.Job{Kind: bridge.JobUser, UserID: "U1"})
	require.NoError(t, err)
	assert.Equal(t, bridge.OutcomeSynced, got)
	acct, _ := accounts.Get(ref)
	assert.Equal(t, withRecord(map[string]any{"roles": []any{"viewer"}}, map[string]any{"k": []any{"roles"}, "c": true}), acct.Claims,
		"the bridge wrote every claim of an account it marked before records existed, and wrote its profile")
	assert.Zero(t, acct.Revocations)
}

func TestMergedClaimsOverTheBudgetFailTheAccountAndDropNothing(t *testing.T) {
	accounts := bridgetest.NewAccounts()
	big := strings.Repeat("x", 900)
	accounts.Put(ref, bridge.Account{Claims: withRecord(map[string]any{"roles": []any{"viewer"}, "other": big}, map[string]any{"k": []any{"roles"}})})
	lc := lifecycle(bridgetest.NewUsers(bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer", strings.Repeat("r", 200)}}), accounts, false)

	_, err := lc.Run(context.Background(), bridge.Job{Kind: bridge.JobUser, UserID: "U1"})
	require.Error(t, err)
	assert.Equal(t, bridge.CodeClaimsTooLarge, bridge.CodeOf(err))
	assert.False(t, bridge.Retryable(err), "no retry can make it fit")
	acct, _ := accounts.Get(ref)
	assert.Equal(t, big, acct.Claims["other"], "the foreign claim is kept")
	assert.Equal(t, []any{"viewer"}, acct.Claims["roles"], "the account is left as it was")
}

func TestRemovedUsersAreMarkedAndRestored(t *testing.T) {
	accounts := bridgetest.NewAccounts()
	users := bridgetest.NewUsers(bridge.DescopeUser{UserID: "U1", Status: "disabled"})
	removed := flow.NewMemoryRemoved(10)
	lc := lifecycle(users, accounts, false)
	lc.Removed = removed
	ctx := context.Background()

	got, err := lc.Run(ctx, bridge.Job{Kind: bridge.JobUser, UserID: "U1"})
	require.NoError(t, err)
	assert.Equal(t, bridge.OutcomePlaceholder, got, "a disabled user with no account gets a disabled placeholder")
	is, _ := removed.Removed(ctx, "U1")
	assert.True(t, is, "a disabled user is marked removed")

	users.Put(bridge.DescopeUser{UserID: "U1"})
	got, err = lc.Run(ctx, bridge.Job{Kind: bridge.JobUser, UserID: "U1"})
	require.NoError(t, err)
	assert.Equal(t, bridge.OutcomeEnabled, got, "the placeholder the bridge disabled is enabled again")
	is, _ = removed.Removed(ctx, "U1")
	assert.False(t, is, "enabling the user lifts the mark")

	users.Delete("U1")
	_, err = lc.Run(ctx, bridge.Job{Kind: bridge.JobUser, UserID: "U1"})
	require.NoError(t, err)
	is, _ = removed.Removed(ctx, "U1")
	assert.True(t, is, "a deleted user is marked removed")
}

func TestAdoptionMarksAFirstSignInAsTheBridges(t *testing.T) {
	ctx := context.Background()
	users := bridgetest.NewUsers(bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}, Email: "a@example.com"})

	t.Run("an exchange whose sign-in has not happened yet creates the account", func(t *testing.T) {
		accounts := bridgetest.NewAccounts()
		got, err := lifecycle(users, accounts, false).Run(ctx, bridge.Job{Kind: bridge.JobUser, UserID: "U1", Adopt: time.Now().UnixMilli()})
		require.NoError(t, err)
		assert.Equal(t, bridge.OutcomeAdopted, got)
		acct, ok := accounts.Get(ref)
		require.True(t, ok)
		assert.False(t, acct.Disabled)
		assert.Equal(t, withRecord(map[string]any{"roles": []any{"viewer"}}, map[string]any{"k": []any{"roles"}, "c": true}), acct.Claims)
	})
	t.Run("an account the sign-in created just now is marked as created by the bridge, and not revoked", func(t *testing.T) {
		accounts := bridgetest.NewAccounts()
		accounts.Put(ref, bridge.Account{Created: time.Now(), LastSignIn: time.Now()})
		got, err := lifecycle(users, accounts, false).Run(ctx, bridge.Job{Kind: bridge.JobUser, UserID: "U1", Adopt: time.Now().UnixMilli()})
		require.NoError(t, err)
		assert.Equal(t, bridge.OutcomeSynced, got)
		acct, _ := accounts.Get(ref)
		assert.Zero(t, acct.Revocations)
		assert.Equal(t, "a@example.com", acct.Email, "the bridge created it, so it writes the profile")
		assert.Equal(t, map[string]any{"k": []any{"roles"}, "c": true}, acct.Claims[bridge.OwnerClaim])
	})
	t.Run("an older account at the UID is marked but not taken as created", func(t *testing.T) {
		accounts := bridgetest.NewAccounts()
		accounts.Put(ref, bridge.Account{Created: time.Now().Add(-24 * time.Hour), Email: "old@example.com"})
		_, err := lifecycle(users, accounts, false).Run(ctx, bridge.Job{Kind: bridge.JobUser, UserID: "U1", Adopt: time.Now().UnixMilli()})
		require.NoError(t, err)
		acct, _ := accounts.Get(ref)
		assert.Equal(t, "old@example.com", acct.Email)
		assert.Equal(t, "U1", acct.Claims[bridge.MarkerClaim])
	})
}

func TestUserModifiedForAUserDescopeNoLongerHasEndsTheAccount(t *testing.T) {
	accounts := bridgetest.NewAccounts()
	accounts.Put(ref, bridge.Account{})
	lc := lifecycle(bridgetest.NewUsers(), accounts, false)

	got, err := lc.Run(context.Background(), bridge.Job{Kind: bridge.JobUser, UserID: "U1"})
	require.NoError(t, err)
	assert.Equal(t, bridge.OutcomeDisabled, got)
	acct, _ := accounts.Get(ref)
	assert.True(t, acct.Disabled)
	assert.Equal(t, 1, acct.Revocations)
}

func TestLifecycleFailuresAreReturned(t *testing.T) {
	boom := errors.New("upstream down")
	cases := []struct {
		name  string
		users *bridgetest.Users
		accts *bridgetest.Accounts
		run   func(*bridge.Lifecycle) error
	}{
		{
			name:  "a failed Descope read fails a deletion",
			users: &bridgetest.Users{Err: boom},
			accts: bridgetest.NewAccounts(),
			run: func(l *bridge.Lifecycle) error {
				_, err := l.Run(context.Background(), bridge.Job{Kind: bridge.JobUser, UserID: "U1"})
				return err
			},
		},
		{
			name:  "a failed Descope read fails a modification",
			users: &bridgetest.Users{Err: boom},
			accts: bridgetest.NewAccounts(),
			run: func(l *bridge.Lifecycle) error {
				_, err := l.Run(context.Background(), bridge.Job{Kind: bridge.JobUser, UserID: "U1"})
				return err
			},
		},
		{
			name:  "a failed Firebase call fails a deletion",
			users: bridgetest.NewUsers(),
			accts: &bridgetest.Accounts{Err: boom},
			run: func(l *bridge.Lifecycle) error {
				_, err := l.Run(context.Background(), bridge.Job{Kind: bridge.JobUser, UserID: "U1"})
				return err
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(lifecycle(tc.users, tc.accts, false))
			assert.ErrorIs(t, err, boom)
		})
	}
}

// marked is claims with the marker lifecycle sync writes for user U1.
// withRecord is claims marked by an earlier sync with ownership record own.
func withRecord(claims, own map[string]any) map[string]any {
	out := marked(claims)
	out[bridge.OwnerClaim] = own
	return out
}

func marked(claims map[string]any) map[string]any {
	out := map[string]any{bridge.MarkerClaim: "U1"}
	for k, v := range claims {
		out[k] = v
	}
	return out
}
