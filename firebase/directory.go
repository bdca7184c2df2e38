package firebase

import (
	"context"

	"firebase.google.com/go/v4/auth"

	"github.com/dfbridge/dfbridge/bridge"
)

// Directory finds existing Firebase accounts for the migration step.
type Directory struct{ c *Client }

var _ bridge.UserDirectory = (*Directory)(nil)

// Directory returns a bridge.UserDirectory over this client's project and
// its tenants.
func (c *Client) Directory() *Directory { return &Directory{c: c} }

// FindByEmail returns every account in tenantID ("" for the project) that
// holds email. It asks with GetUsers rather than GetUserByEmail because the
// latter returns one account even where a project allows several per email,
// and an ambiguous match must be seen to be refused.
func (d *Directory) FindByEmail(ctx context.Context, tenantID, email string) ([]bridge.DirectoryUser, error) {
	tc, err := d.c.forTenant(tenantID)
	if err != nil {
		return nil, bridge.Wrap(bridge.CodeTenantNotMapped, err, "selecting firebase tenant")
	}
	res, err := tc.GetUsers(ctx, []auth.UserIdentifier{auth.EmailIdentifier{Email: email}})
	if err != nil {
		return nil, bridge.Wrap(bridge.CodeUpstream, err, "looking up firebase accounts by email")
	}
	out := make([]bridge.DirectoryUser, 0, len(res.Users))
	for _, u := range res.Users {
		out = append(out, bridge.DirectoryUser{UID: u.UID, EmailVerified: u.EmailVerified, Disabled: u.Disabled})
	}
	return out, nil
}
