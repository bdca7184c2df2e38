package firebase

import (
	"context"
	"fmt"
	"testing"
	"time"

	"firebase.google.com/go/v4/auth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/emulator/authemu"
)

// The directory finds accounts by email in the real Auth emulator, in the
// project and inside a tenant.
func TestDirectoryFindByEmail(t *testing.T) {
	emu := authemu.ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := New(ctx, ClientConfig{ProjectID: authemu.ProjectID, EmulatorHost: emu.Host})
	require.NoError(t, err)
	tenantID, err := emu.CreateTenant(ctx, "dir")
	require.NoError(t, err)
	tc, err := c.Auth().TenantManager.AuthForTenant(tenantID)
	require.NoError(t, err)

	n := time.Now().UnixNano()
	verified := fmt.Sprintf("v%d@example.com", n)
	disabled := fmt.Sprintf("d%d@example.com", n)
	inTenant := fmt.Sprintf("t%d@example.com", n)
	_, err = c.Auth().CreateUser(ctx, (&auth.UserToCreate{}).UID(fmt.Sprintf("V%d", n)).Email(verified).EmailVerified(true))
	require.NoError(t, err)
	_, err = c.Auth().CreateUser(ctx, (&auth.UserToCreate{}).UID(fmt.Sprintf("D%d", n)).Email(disabled).Disabled(true))
	require.NoError(t, err)
	_, err = tc.CreateUser(ctx, (&auth.UserToCreate{}).UID(fmt.Sprintf("T%d", n)).Email(inTenant).EmailVerified(true))
	require.NoError(t, err)

	cases := []struct {
		name   string
		tenant string
		email  string
		want   []bridge.DirectoryUser
	}{
		{"a verified account is found with its flags", "", verified, []bridge.DirectoryUser{{UID: fmt.Sprintf("V%d", n), EmailVerified: true}}},
		{"a disabled, unverified account says so", "", disabled, []bridge.DirectoryUser{{UID: fmt.Sprintf("D%d", n), Disabled: true}}},
		{"an unknown email finds nothing", "", fmt.Sprintf("none%d@example.com", n), []bridge.DirectoryUser{}},
		{"a tenant's account is found in the tenant", tenantID, inTenant, []bridge.DirectoryUser{{UID: fmt.Sprintf("T%d", n), EmailVerified: true}}},
		{"a tenant's account is not found in the project", "", inTenant, []bridge.DirectoryUser{}},
		{"a project account is not found in a tenant", tenantID, verified, []bridge.DirectoryUser{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Directory().FindByEmail(ctx, tc.tenant, tc.email)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
