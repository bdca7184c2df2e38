package bridge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/bridge/bridgetest"
)

const project = "Ptest"

var ref = bridge.AccountRef{UID: "U1"}

func lifecycle(users *bridgetest.Users, accounts *bridgetest.Accounts, deleteAccounts bool) *bridge.Lifecycle {
	return &bridge.Lifecycle{
		ProjectID:      project,
		Users:          users,
		Accounts:       accounts,
		Identities:     &bridge.Exchanger{Mapping: bridge.DefaultMapping()},
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
			name:        "with delete configured the account is deleted",
			account:     &bridge.Account{},
			deleteAccts: true,
			want:        bridge.OutcomeDeleted,
		},
		{
			name: "a user who never signed in has nothing to end",
			want: bridge.OutcomeNoAccount,
		},
		{
			name:        "a user Descope still has is synced, not ended (a stale or replayed event)",
			descope:     []bridge.DescopeUser{live},
			account:     &bridge.Account{Claims: marked(map[string]any{"roles": []any{"viewer"}})},
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

			got, err := lc.UserDeleted(context.Background(), "U1", []string{"u1@example.com"})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			acct, exists := accounts.Get(ref)
			assert.Equal(t, tc.wantExists, exists)
			assert.Equal(t, tc.wantDisabled, acct.Disabled)
			assert.Equal(t, tc.wantRevoked, acct.Revocations)
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
			name:       "a user enabled again in Descope is enabled again",
			user:       bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}},
			account:    bridge.Account{Disabled: true, Claims: viewerClaims},
			want:       bridge.OutcomeEnabled,
			wantClaims: viewerClaims,
		},
		{
			name:       "email, verification and name follow Descope",
			user:       bridge.DescopeUser{UserID: "U1", Roles: []string{"viewer"}, Email: "new@example.com", EmailVerified: true, Name: "Ada"},
			account:    bridge.Account{Claims: viewerClaims, Email: "old@example.com", DisplayName: "A"},
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
			if tc.account.Claims != nil {
				tc.account.Claims = marked(tc.account.Claims)
			}
			accounts.Put(ref, tc.account)
			lc := lifecycle(bridgetest.NewUsers(tc.user), accounts, false)

			got, err := lc.UserModified(context.Background(), "U1", nil, tc.forceRevoke)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			acct, ok := accounts.Get(ref)
			require.True(t, ok)
			assert.Equal(t, marked(tc.wantClaims), acct.Claims, "the claims, marked with the Descope user ID")
			assert.Equal(t, tc.wantRevoked, acct.Revocations)
			assert.Equal(t, tc.wantDisabled, acct.Disabled)
			assert.Equal(t, tc.wantEmail, acct.Email)
			assert.Equal(t, tc.wantName, acct.DisplayName)

			again, err := lc.UserModified(context.Background(), "U1", nil, false)
			require.NoError(t, err)
			assert.Equal(t, bridge.OutcomeUnchanged, again, "a second sync of the same state changes nothing")
			after, _ := accounts.Get(ref)
			assert.Equal(t, acct, after)
		})
	}
}

func TestUserModifiedForAUserDescopeNoLongerHasEndsTheAccount(t *testing.T) {
	accounts := bridgetest.NewAccounts()
	accounts.Put(ref, bridge.Account{})
	lc := lifecycle(bridgetest.NewUsers(), accounts, false)

	got, err := lc.UserModified(context.Background(), "U1", nil, false)
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
				_, err := l.UserDeleted(context.Background(), "U1", nil)
				return err
			},
		},
		{
			name:  "a failed Descope read fails a modification",
			users: &bridgetest.Users{Err: boom},
			accts: bridgetest.NewAccounts(),
			run: func(l *bridge.Lifecycle) error {
				_, err := l.UserModified(context.Background(), "U1", nil, false)
				return err
			},
		},
		{
			name:  "a failed Firebase call fails a deletion",
			users: bridgetest.NewUsers(),
			accts: &bridgetest.Accounts{Err: boom},
			run: func(l *bridge.Lifecycle) error {
				_, err := l.UserDeleted(context.Background(), "U1", nil)
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
func marked(claims map[string]any) map[string]any {
	out := map[string]any{bridge.MarkerClaim: "U1"}
	for k, v := range claims {
		out[k] = v
	}
	return out
}
