package bridge_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dfbridge/dfbridge/bridge"
)

// FuzzMapping maps sessions built from arbitrary strings. The mapping must
// not panic, must be deterministic, and must either refuse with a code or
// produce a UID Firebase accepts (1 to 128 bytes of UTF-8) and claims that
// are JSON and use no name Firebase reserves.
func FuzzMapping(f *testing.F) {
	f.Add("U2abc", "admin,editor", "docs.read", "T1", "owner", "T1")
	f.Add("", "", "", "", "", "")
	f.Add(strings.Repeat("u", 128), "", "", "", "", "")
	f.Add(strings.Repeat("u", 129), "", "", "", "", "")
	f.Add("\xff\xfe", "a,\xff", "", "", "", "")

	m := bridge.DefaultMapping()
	f.Fuzz(func(t *testing.T, uid, roles, permissions, tenant, tenantRole, dct string) {
		s := &bridge.Session{
			UserID:        uid,
			Roles:         split(roles),
			Permissions:   split(permissions),
			CurrentTenant: dct,
			Claims:        map[string]any{"sub": uid},
		}
		if tenant != "" {
			s.Tenants = map[string]bridge.TenantAccess{tenant: {Roles: split(tenantRole)}}
		}
		id, err := m.Map(s)
		again, err2 := m.Map(s)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(id, again) {
			t.Fatalf("mapping is not deterministic: %+v/%v then %+v/%v", id, err, again, err2)
		}
		if err != nil {
			var be *bridge.Error
			if !errors.As(err, &be) || be.Code == bridge.CodeInternal {
				t.Fatalf("refusal without a client code: %v", err)
			}
			return
		}
		if len(id.UID) == 0 || len(id.UID) > bridge.MaxUIDLength {
			t.Fatalf("UID of %d bytes", len(id.UID))
		}
		if !utf8.ValidString(id.UID) {
			t.Fatalf("UID %q is not UTF-8: JSON would rewrite it, and two users could share one", id.UID)
		}
		for name := range id.Claims {
			if bridge.IsReservedClaim(name) {
				t.Fatalf("claim %q is reserved by Firebase", name)
			}
		}
		if _, err := json.Marshal(id.Claims); err != nil {
			t.Fatalf("claims are not JSON: %v", err)
		}
	})
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
