package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/authemu"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/firestoreemu"
)

// examples/firestore.rules does what its comments say, against the real
// Firestore emulator, with ID tokens the Auth emulator issued for custom
// tokens the bridge minted: each rule reads the claim it names, a tenant's
// roles included. A session in two tenants with none selected gets no
// token at all (tenant_not_selected).
func TestTheExampleRulesReadTheMappedClaims(t *testing.T) {
	t.Parallel()
	emu := authemu.ForTest(t)
	fs := firestoreemu.Start(t, "demo-dfbridge", "../../examples/firestore.rules")
	s := startStack(t, emu.Host, nil, map[string]string{
		"IDENTITY_MAPPING": `{"claims":{"include":["roles","permissions","tenants","dct"],"tenantProjection":{"roles":"tenantRoles"}}}`,
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, editor, reader, owner := uniqueUser("Uadmin"), uniqueUser("Ueditor"), uniqueUser("Ureader"), uniqueUser("Uowner")
	for _, p := range []string{"admin/a", "docs/d1", "tenants/T1/docs/x", "tenants/T1/billing/b", "users/" + reader + "/notes/n"} {
		require.NoError(t, fs.Put(ctx, p, map[string]string{"x": "y"}))
	}
	token := func(sess descopestub.Session) string {
		tok, err := s.signIn(t, emu, s.session(t, sess))
		require.NoError(t, err)
		return tok.IDToken
	}
	adminTok := token(descopestub.Session{UserID: admin, Roles: []string{"admin"}})
	editorTok := token(descopestub.Session{UserID: editor, Permissions: []string{"docs.write"},
		Tenants: map[string]descopestub.TenantRoles{"T1": {Roles: []string{"editor"}}}, CurrentTenant: "T1"})
	readerTok := token(descopestub.Session{UserID: reader,
		Tenants: map[string]descopestub.TenantRoles{"T1": {Roles: []string{"viewer"}}, "T2": {Roles: []string{"editor"}}}, CurrentTenant: "T2"})
	ownerTok := token(descopestub.Session{UserID: owner,
		Tenants: map[string]descopestub.TenantRoles{"T1": {Roles: []string{"owner"}}, "T2": {}}, CurrentTenant: "T2"})

	get := func(path, tok string) int {
		status, err := fs.Get(ctx, path, tok)
		require.NoError(t, err)
		return status
	}
	write := func(path, tok string) int {
		status, err := fs.Write(ctx, path, tok)
		require.NoError(t, err)
		return status
	}
	cases := []struct {
		name   string
		status int
		want   int
	}{
		{"roles: an admin reads the admin area", get("admin/a", adminTok), http.StatusOK},
		{"roles: a user without the role does not", get("admin/a", editorTok), http.StatusForbidden},
		{"no credential reads nothing", get("admin/a", ""), http.StatusForbidden},
		{"uid: the owner reads their own documents", get("users/"+reader+"/notes/n", readerTok), http.StatusOK},
		{"uid: nobody else does", get("users/"+reader+"/notes/n", adminTok), http.StatusForbidden},
		{"permissions: docs.write writes a document", write("docs/d2", editorTok), http.StatusOK},
		{"permissions: without it, no write", write("docs/d3", readerTok), http.StatusForbidden},
		{"dct: a member acting in the tenant reads its documents", get("tenants/T1/docs/x", editorTok), http.StatusOK},
		{"dct: a member acting in another tenant does not", get("tenants/T1/docs/x", readerTok), http.StatusForbidden},
		{"tenantRoles: the current tenant's editor writes", write("tenants/T1/docs/y", editorTok), http.StatusOK},
		{"tenantRoles: an editor of another tenant does not", write("tenants/T1/docs/z", readerTok), http.StatusForbidden},
		{"tenants: a tenant's owner reads its billing from another tenant", get("tenants/T1/billing/b", ownerTok), http.StatusOK},
		{"tenants: a member who is not its owner does not", get("tenants/T1/billing/b", editorTok), http.StatusForbidden},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.status, tc.name)
	}

	twoTenants := s.session(t, descopestub.Session{UserID: uniqueUser("Utwo"),
		Tenants: map[string]descopestub.TenantRoles{"T1": {Roles: []string{"editor"}}, "T2": {Roles: []string{"viewer"}}}})
	resp := s.exchangeBearer(t, twoTenants)
	assert.Equal(t, http.StatusForbidden, resp.Status)
	assert.Equal(t, "tenant_not_selected", resp.errorCode(t))
}
