package descope_test

import (
	"context"
	"net/http/httptest"
	"testing"

	sdk "github.com/descope/go-sdk/descope"
	"github.com/descope/go-sdk/descope/client"
	"github.com/descope/go-sdk/descope/logger"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/descope"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
)

func directory(t *testing.T, managementKey string) (*descopestub.Stub, *descope.Directory) {
	t.Helper()
	stub, err := descopestub.New(descopestub.Options{ProjectID: "Pdirectory", ManagementKey: "mgmt-key", KeyBits: 1024})
	require.NoError(t, err)
	ts := httptest.NewServer(stub.Handler())
	t.Cleanup(ts.Close)
	c, err := client.NewWithConfig(&client.Config{
		ProjectID:      "Pdirectory",
		DescopeBaseURL: ts.URL,
		ManagementKey:  managementKey,
		LogLevel:       logger.LogNone,
	})
	require.NoError(t, err)
	return stub, descope.NewDirectory(c)
}

func TestDirectoryLoadsTheUserAsDescopeHasItNow(t *testing.T) {
	stub, dir := directory(t, "mgmt-key")
	stub.PutRole(sdk.Role{Name: "admin", PermissionNames: []string{"docs.delete", "docs.write"}})
	stub.PutRole(sdk.Role{Name: "editor", PermissionNames: []string{"docs.write"}})
	stub.PutRole(sdk.Role{Name: "owner", PermissionNames: []string{"billing.read"}})
	stub.PutRole(sdk.Role{Name: "owner", TenantID: "T2", PermissionNames: []string{"billing.write"}})
	stub.PutUser(sdk.UserResponse{
		User:             sdk.User{Email: "ada@example.com", Name: "Ada"},
		UserID:           "U1",
		LoginIDs:         []string{"ada@example.com"},
		VerifiedEmail:    true,
		RoleNames:        []string{"admin", "editor"},
		UserTenants:      []*sdk.AssociatedTenant{{TenantID: "T1", Roles: []string{"owner"}}, {TenantID: "T2", Roles: []string{"owner"}}},
		CustomAttributes: map[string]any{"firebaseUid": "legacy-1"},
		Status:           "enabled",
	})

	u, err := dir.LoadUser(context.Background(), "U1")
	require.NoError(t, err)
	assert.Equal(t, &bridge.User{
		UserID:        "U1",
		LoginIDs:      []string{"ada@example.com"},
		Email:         "ada@example.com",
		EmailVerified: true,
		Name:          "Ada",
		Roles:         []string{"admin", "editor"},
		Permissions:   []string{"docs.delete", "docs.write"},
		Tenants: map[string]bridge.TenantAccess{
			"T1": {Roles: []string{"owner"}, Permissions: []string{"billing.read"}},
			"T2": {Roles: []string{"owner"}, Permissions: []string{"billing.write"}},
		},
		Attributes: map[string]any{"firebaseUid": "legacy-1"},
	}, u)

	t.Run("a disabled user reads as disabled", func(t *testing.T) {
		require.True(t, stub.DisableUser("U1"))
		u, err := dir.LoadUser(context.Background(), "U1")
		require.NoError(t, err)
		assert.True(t, u.Disabled)
	})
}

func TestDirectoryRefusals(t *testing.T) {
	cases := []struct {
		name    string
		key     string
		userID  string
		wantErr error
		code    bridge.Code
	}{
		{name: "a deleted user is not found", key: "mgmt-key", userID: "Ugone", wantErr: bridge.ErrUserNotFound},
		{name: "an ID that is another user's login ID is not that user", key: "mgmt-key", userID: "U1@example.com", wantErr: bridge.ErrUserNotFound},
		{name: "an empty ID is not found without a call", key: "mgmt-key", userID: "", wantErr: bridge.ErrUserNotFound},
		{name: "a wrong management key is an upstream failure", key: "wrong", userID: "U1", code: bridge.CodeUpstream},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stub, dir := directory(t, tc.key)
			stub.PutUser(sdk.UserResponse{UserID: "U1", LoginIDs: []string{"U1@example.com"}})
			_, err := dir.LoadUser(context.Background(), tc.userID)
			require.Error(t, err)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			assert.Equal(t, tc.code, bridge.CodeOf(err))
		})
	}
}
