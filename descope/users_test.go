package descope

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/descope/go-sdk/descope"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
)

// Users loads users through the real SDK management client, from the
// stand-in's GET /v1/mgmt/user.
func TestUsersLoadUser(t *testing.T) {
	stub, err := descopestub.New(descopestub.Options{ProjectID: "Pusers", ManagementKey: "mk", KeyBits: 1024})
	require.NoError(t, err)
	ts := httptest.NewServer(stub.Handler())
	t.Cleanup(ts.Close)
	stub.PutUser(descope.UserResponse{
		UserID: "U1", LoginIDs: []string{"ada@example.com"}, User: descope.User{Email: "ada@example.com", Name: "Ada"},
		VerifiedEmail: true, RoleNames: []string{"admin"}, Status: "enabled",
		UserTenants:      []*descope.AssociatedTenant{{TenantID: "T1", Roles: []string{"owner"}}},
		CustomAttributes: map[string]any{"firebaseUid": "legacy-1"},
	})
	users := func(t *testing.T, key string) *Users {
		keys := NewKeySource(KeySourceConfig{BaseURL: ts.URL, ProjectID: "Pusers"})
		sdk, err := newSDK("Pusers", ts.URL, key, keys, nil)
		require.NoError(t, err)
		return NewUsers(sdk)
	}

	t.Run("a known user is converted whole", func(t *testing.T) {
		u, err := users(t, "mk").LoadUser(context.Background(), "U1")
		require.NoError(t, err)
		assert.Equal(t, &bridge.DescopeUser{
			UserID: "U1", LoginIDs: []string{"ada@example.com"}, Email: "ada@example.com", EmailVerified: true,
			Name: "Ada", Status: "enabled", Roles: []string{"admin"},
			Tenants:          map[string]bridge.TenantAccess{"T1": {Roles: []string{"owner"}}},
			CustomAttributes: map[string]any{"firebaseUid": "legacy-1"},
		}, u)
	})
	t.Run("an unknown user is ErrUserNotFound", func(t *testing.T) {
		_, err := users(t, "mk").LoadUser(context.Background(), "U404")
		assert.ErrorIs(t, err, bridge.ErrUserNotFound)
	})
	t.Run("an empty user ID is ErrUserNotFound without a call", func(t *testing.T) {
		_, err := users(t, "mk").LoadUser(context.Background(), "")
		assert.ErrorIs(t, err, bridge.ErrUserNotFound)
	})
	t.Run("a refused management key is an upstream error", func(t *testing.T) {
		_, err := users(t, "wrong").LoadUser(context.Background(), "U1")
		require.Error(t, err)
		assert.Equal(t, bridge.CodeUpstream, bridge.CodeOf(err))
	})
}

// WithPermissions resolves what the user's roles grant, from the stand-in's
// GET /v1/mgmt/role/all, as Descope does for a session JWT.
func TestUsersWithPermissions(t *testing.T) {
	stub, err := descopestub.New(descopestub.Options{ProjectID: "Pusers", ManagementKey: "mk", KeyBits: 1024})
	require.NoError(t, err)
	ts := httptest.NewServer(stub.Handler())
	t.Cleanup(ts.Close)
	stub.PutRole(descope.Role{Name: "admin", PermissionNames: []string{"docs.delete", "docs.write"}})
	stub.PutRole(descope.Role{Name: "editor", PermissionNames: []string{"docs.write"}})
	stub.PutRole(descope.Role{Name: "owner", PermissionNames: []string{"billing.read"}})
	stub.PutRole(descope.Role{Name: "owner", TenantID: "T2", PermissionNames: []string{"billing.write"}})
	stub.PutUser(descope.UserResponse{
		UserID: "U1", LoginIDs: []string{"U9"}, RoleNames: []string{"admin", "editor"}, Status: "enabled",
		UserTenants: []*descope.AssociatedTenant{{TenantID: "T1", Roles: []string{"owner"}}, {TenantID: "T2", Roles: []string{"owner"}}},
	})
	keys := NewKeySource(KeySourceConfig{BaseURL: ts.URL, ProjectID: "Pusers"})
	sdk, err := newSDK("Pusers", ts.URL, "mk", keys, nil)
	require.NoError(t, err)
	users := NewUsers(sdk).WithPermissions()

	u, err := users.LoadUser(context.Background(), "U1")
	require.NoError(t, err)
	assert.Equal(t, []string{"docs.delete", "docs.write"}, u.Permissions, "each permission once, in role order")
	assert.Equal(t, map[string]bridge.TenantAccess{
		"T1": {Roles: []string{"owner"}, Permissions: []string{"billing.read"}},
		"T2": {Roles: []string{"owner"}, Permissions: []string{"billing.write"}},
	}, u.Tenants, "a tenant's own role shadows the project role of the same name")

	t.Run("a disabled user reads as disabled", func(t *testing.T) {
		require.True(t, stub.DisableUser("U1"))
		u, err := users.LoadUser(context.Background(), "U1")
		require.NoError(t, err)
		assert.True(t, u.Disabled())
	})
	t.Run("an ID that is another user's login ID is not that user", func(t *testing.T) {
		_, err := users.LoadUser(context.Background(), "U9")
		assert.ErrorIs(t, err, bridge.ErrUserNotFound)
	})
}
