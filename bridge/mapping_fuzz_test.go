package bridge

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzSession is the JSON shape fuzz inputs use to describe a Session.
type fuzzSession struct {
	UserID        string                  `json:"userId"`
	Roles         []string                `json:"roles"`
	Permissions   []string                `json:"permissions"`
	Tenants       map[string]TenantAccess `json:"tenants"`
	CurrentTenant string                  `json:"dct"`
	AMR           []string                `json:"amr"`
	Email         string                  `json:"email"`
	EmailVerified bool                    `json:"emailVerified"`
	LoginIDs      []string                `json:"loginIds"`
	AuthAgo       int64                   `json:"authAgo"`
	Claims        map[string]any          `json:"claims"`
}

// FuzzMapping drives the whole configurable mapping with arbitrary mapping
// documents and sessions. Whatever the bytes, it must not panic, every
// refusal must carry a code, and every identity it produces must be one
// Firebase accepts: a 1-128 byte UTF-8 UID, no reserved top-level claim,
// claims within 1000 bytes, the same answer twice.
func FuzzMapping(f *testing.F) {
	f.Add(`{}`, []byte(`{"userId":"U1","roles":["admin"],"dct":"T1","tenants":{"T1":{"roles":["owner"]}}}`))
	f.Add(`{"uid":{"from":"email","prefix":"e:"},"claims":{"include":["amr"],"rename":{"amr":"methods"}}}`,
		[]byte(`{"userId":"U1","email":"A@B.c","emailVerified":true,"amr":["mfa"]}`))
	f.Add(`{"claims":{"namespace":"d","include":["roles","amr","plan"],"dropOrder":["d.roles","d"]},"policy":{"authMethods":{"anyOf":["mfa"]}}}`,
		[]byte(`{"userId":"U1","amr":["mfa"],"claims":{"plan":"pro"}}`))
	f.Add(`{"uid":{"from":"claim","claim":"fid"},"tenants":{"map":{"T1":"acme-1"},"unmapped":"refuse"},"claims":{"tenantProjection":{"roles":"tr","permissions":"tp"},"include":[]}}`,
		[]byte(`{"userId":"U1","claims":{"fid":"legacy"},"tenants":{"T1":{"roles":["r"],"permissions":["p"]}}}`))
	f.Add(`{"policy":{"roles":{"anyOf":["a"],"in":"either"},"maxSessionAge":"1h"},"claims":{"static":{"app":"x"}}}`,
		[]byte(`{"userId":"U1","roles":["a"],"authAgo":30}`))

	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, doc string, sessionJSON []byte) {
		m, err := ParseMapping([]byte(doc))
		if err != nil {
			if m != nil {
				t.Fatal("a refused document still produced a mapping")
			}
			return
		}
		var fs fuzzSession
		dec := json.NewDecoder(bytes.NewReader(sessionJSON))
		dec.UseNumber()
		if dec.Decode(&fs) != nil {
			return
		}
		s := &Session{
			UserID: fs.UserID, Roles: fs.Roles, Permissions: fs.Permissions, Tenants: fs.Tenants,
			CurrentTenant: fs.CurrentTenant, AMR: fs.AMR, Email: fs.Email, EmailVerified: fs.EmailVerified,
			LoginIDs: fs.LoginIDs, Claims: fs.Claims,
		}
		if fs.AuthAgo > 0 {
			s.AuthTime = now.Add(-time.Duration(fs.AuthAgo%1e6) * time.Second)
		}

		if err := m.Check(s, now); err != nil {
			requireCoded(t, err)
		}
		id, err := m.Map(s)
		if err != nil {
			requireCoded(t, err)
			return
		}
		if id.UID == "" || len(id.UID) > MaxUIDLength || !utf8.ValidString(id.UID) {
			t.Fatalf("mapped a UID Firebase refuses: %q", id.UID)
		}
		for name := range id.Claims {
			if IsReservedClaim(name) {
				t.Fatalf("mapped reserved claim %q", name)
			}
		}
		enc, err := json.Marshal(id.Claims)
		if err != nil {
			t.Fatalf("mapped claims do not encode: %v", err)
		}
		if len(enc) > MaxClaimsBytes {
			t.Fatalf("mapped claims are %d bytes", len(enc))
		}
		again, err := m.Map(s)
		if err != nil {
			t.Fatalf("second mapping failed: %v", err)
		}
		enc2, _ := json.Marshal(again.Claims)
		if again.UID != id.UID || again.TenantID != id.TenantID || !bytes.Equal(enc, enc2) {
			t.Fatal("the mapping is not deterministic")
		}
	})
}

func requireCoded(t *testing.T, err error) {
	t.Helper()
	if c := CodeOf(err); c == CodeInternal || c == "" {
		t.Fatalf("refusal without a code: %v", err)
	}
}
