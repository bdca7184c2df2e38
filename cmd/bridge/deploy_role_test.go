package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"firebase.google.com/go/v4/auth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adminCalls is every Admin SDK Auth method the bridge may call, with the
// IAM permission it needs (the Identity Toolkit API call it makes), or
// "" when it calls no API. deploy/README.md prints this table; deploy.sh's
// custom role holds exactly the permissions named here.
var adminCalls = map[string]string{
	"GetUser":               "firebaseauth.users.get",    // accounts:lookup
	"GetUsers":              "firebaseauth.users.get",    // accounts:lookup, batched
	"Users":                 "firebaseauth.users.get",    // accounts:batchGet (reconcile walks every account)
	"UpdateUser":            "firebaseauth.users.update", // accounts:update (disable, enable, profile)
	"SetCustomUserClaims":   "firebaseauth.users.update", // accounts:update (customAttributes)
	"RevokeRefreshTokens":   "firebaseauth.users.update", // accounts:update (validSince)
	"CreateUser":            "firebaseauth.users.create", // accounts (a deleted user's placeholder, adoption)
	"DeleteUser":            "firebaseauth.users.delete", // accounts:delete (reconcile's purge, ON_USER_DELETED=delete)
	"Tenants":               "identitytoolkit.tenants.list",
	"AuthForTenant":         "", // builds a tenant client; no call
	"CustomToken":           "", // signs through IAM signBlob: Token Creator on itself
	"CustomTokenWithClaims": "",
}

// adminMethods are the method names of the Admin SDK's Auth clients.
func adminMethods() map[string]bool {
	names := map[string]bool{}
	for _, v := range []any{&auth.Client{}, &auth.TenantClient{}, &auth.TenantManager{}} {
		t := reflect.TypeOf(v)
		for i := range t.NumMethod() {
			names[t.Method(i).Name] = true
		}
	}
	return names
}

// Every Admin SDK Auth call in firebase/ (the one package that holds the
// SDK) is in adminCalls, and deploy.sh's custom role grants every
// permission those calls need and nothing else. The emulator checks no
// IAM, so this is checked by listing the calls.
func TestTheCustomRoleCoversEveryAdminSDKCall(t *testing.T) {
	methods := adminMethods()
	files, err := filepath.Glob("../../firebase/*.go")
	require.NoError(t, err)
	called := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && methods[sel.Sel.Name] {
					called[sel.Sel.Name] = true
				}
			}
			return true
		})
	}
	require.NotEmpty(t, called)
	needed := map[string]bool{}
	for name := range called {
		perm, ok := adminCalls[name]
		if !assert.True(t, ok, "firebase/ calls auth %s, which adminCalls (and the custom role) does not cover", name) {
			continue
		}
		if perm != "" {
			needed[perm] = true
		}
	}
	script, err := os.ReadFile("../../deploy/deploy.sh")
	require.NoError(t, err)
	granted := map[string]bool{}
	for _, m := range regexp.MustCompile(`role_permissions\+?=,?([a-z.,]+)`).FindAllStringSubmatch(string(script), -1) {
		for _, p := range strings.Split(m[1], ",") {
			if p != "" {
				granted[p] = true
			}
		}
	}
	var missing, extra []string
	for p := range needed {
		if !granted[p] {
			missing = append(missing, p)
		}
	}
	for p := range granted {
		if !needed[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	assert.Empty(t, missing, "permissions the calls need that deploy.sh's role does not grant")
	assert.Empty(t, extra, "permissions deploy.sh's role grants that no call needs")
	readme, err := os.ReadFile("../../deploy/README.md")
	require.NoError(t, err)
	for name, perm := range adminCalls {
		if perm != "" && called[name] {
			assert.True(t, strings.Contains(string(readme), "`"+name+"`"), "deploy/README.md lists %s beside %s", name, perm)
		}
	}
}
