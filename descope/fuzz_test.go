package descope

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/httpapi"
)

// FuzzVerify feeds arbitrary strings to the whole verification path: shape
// and header checks, time claims, the key cache and the RS256 check, with
// the Descope SDK's own validation as the oracle. Whatever the input, the verifier must not panic, must refuse with a
// code the API maps to a 4xx, must not repeat the token in its error, and
// must accept nothing but the exact valid tokens it was seeded with.
func FuzzVerify(f *testing.F) {
	v, stub := oracleVerifier(f, 5*time.Second)

	var valid []string
	for _, s := range []descopestub.Session{
		{UserID: "U2fuzz", Roles: []string{"admin"}, Permissions: []string{"docs.read"}},
		{UserID: "U2fuzztenant", Tenants: map[string]descopestub.TenantRoles{"T1": {Roles: []string{"owner"}}}, CurrentTenant: "T1"},
	} {
		tok, err := stub.MintSession(s)
		require.NoError(f, err)
		valid = append(valid, tok)
		f.Add(tok)
	}
	refresh, err := stub.MintRefresh(descopestub.Session{UserID: "U2fuzz"})
	require.NoError(f, err)
	f.Add(refresh)

	f.Fuzz(func(t *testing.T, token string) {
		// The Descope SDK is the differential oracle of the signature
		// check: the bridge never accepts what it refuses.
		oracle(t, v, token)
		s, err := v.Verify(t.Context(), token)
		if err == nil {
			if !slices.Contains(valid, token) {
				t.Fatalf("accepted a token that is not one of the valid seeds: %q", token)
			}
			if s == nil || s.UserID == "" {
				t.Fatalf("accepted with no session or user: %+v", s)
			}
			return
		}
		var be *bridge.Error
		if !errors.As(err, &be) {
			t.Fatalf("refusal without a code: %v", err)
		}
		if status := httpapi.StatusOf(be.Code); status < 400 || status > 499 {
			t.Fatalf("code %s maps to %d, not a 4xx: %v", be.Code, status, err)
		}
		if parts := strings.Split(token, "."); len(parts) == 3 && len(parts[2]) >= 64 && strings.Contains(err.Error(), parts[2]) {
			t.Fatalf("error repeats the token's signature: %v", err)
		}
	})
}
