package bridge

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memVerifier is an in-memory Verifier: known tokens and their sessions.
type memVerifier map[string]*Session

func (v memVerifier) Verify(_ context.Context, token string) (*Session, error) {
	if s, ok := v[token]; ok {
		return s, nil
	}
	return nil, Errorf(CodeInvalidSignature, "unknown token")
}

// memMinter keeps the identities it signed, as a token store would.
type memMinter struct{ minted []Identity }

func (m *memMinter) Mint(_ context.Context, id Identity) (*CustomToken, error) {
	m.minted = append(m.minted, id)
	return &CustomToken{Token: "ct-" + id.UID, ExpiresAt: time.Unix(1700003600, 0)}, nil
}

func TestExchangerAppliesPolicyMigrationAndMapping(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	build := func(t *testing.T, doc string, dir *memDirectory) (*Exchange, *memMinter) {
		m := mustParse(t, doc)
		mint := &memMinter{}
		x := &Exchange{Verifier: memVerifier{"tok": fresh(now)}, Mapping: m, Minter: mint, Now: func() time.Time { return now }}
		if mc := m.Migration(); mc != nil {
			r, err := NewMigrator(*mc, dir, nil, testMemos())
			require.NoError(t, err)
			x.Migrator = r
		}
		return x, mint
	}

	t.Run("a session that passes mints the mapped identity", func(t *testing.T) {
		x, mint := build(t, `{"uid":{"prefix":"d:"},"tenants":{"map":{"T1":"acme-1"}},"claims":{"include":["roles"]}}`, nil)
		res, err := x.Exchange(context.Background(), "tok")
		require.NoError(t, err)
		assert.Equal(t, &Result{Token: "ct-d:U2abc", UID: "d:U2abc", ExpiresAt: time.Unix(1700003600, 0), User: "U2abc"}, res)
		require.Len(t, mint.minted, 1)
		assert.Equal(t, Identity{UID: "d:U2abc", TenantID: "acme-1", Claims: map[string]any{"roles": []string{"admin"}}}, mint.minted[0])
	})
	t.Run("a refused gate stops the exchange before any look-up or mint", func(t *testing.T) {
		dir := newMemDirectory()
		x, mint := build(t, `{"policy":{"maxSessionAge":"30s"},"migration":{"enabled":true}}`, dir)
		_, err := x.Exchange(context.Background(), "tok")
		requireCode(t, err, CodeSessionTooOld)
		assert.Zero(t, dir.lookups.Load())
		assert.Empty(t, mint.minted)
	})
	t.Run("migration keeps the existing UID and skips the prefix", func(t *testing.T) {
		dir := newMemDirectory()
		dir.add("acme-1", "ada@example.com", DirectoryUser{UID: "X", EmailVerified: true})
		x, mint := build(t, `{"uid":{"prefix":"d:"},"migration":{"enabled":true},"tenants":{"map":{"T1":"acme-1"}}}`, dir)
		res, err := x.Exchange(context.Background(), "tok")
		require.NoError(t, err)
		assert.Equal(t, "X", res.UID)
		assert.Equal(t, "acme-1", mint.minted[0].TenantID)
	})
	t.Run("migration finds the account even when the normal strategy could not name one", func(t *testing.T) {
		dir := newMemDirectory()
		dir.add("", "ada@example.com", DirectoryUser{UID: "X", EmailVerified: true})
		x, _ := build(t, `{"uid":{"from":"claim","claim":"absent"},"migration":{"enabled":true}}`, dir)
		res, err := x.Exchange(context.Background(), "tok")
		require.NoError(t, err)
		assert.Equal(t, "X", res.UID)
	})
	t.Run("a new user under migration gets the normal strategy", func(t *testing.T) {
		x, _ := build(t, `{"uid":{"prefix":"d:"},"migration":{"enabled":true}}`, newMemDirectory())
		res, err := x.Exchange(context.Background(), "tok")
		require.NoError(t, err)
		assert.Equal(t, "d:U2abc", res.UID)
	})
	t.Run("a refused migration mints nothing", func(t *testing.T) {
		dir := newMemDirectory()
		dir.add("", "ada@example.com", DirectoryUser{UID: "X"})
		x, mint := build(t, `{"migration":{"enabled":true}}`, dir)
		_, err := x.Exchange(context.Background(), "tok")
		requireCode(t, err, CodeAccountEmailNotVerified)
		assert.Empty(t, mint.minted)
	})
	t.Run("an empty token is refused before verification", func(t *testing.T) {
		x, _ := build(t, `{}`, nil)
		_, err := x.Exchange(context.Background(), "")
		assert.Equal(t, CodeMissingToken, CodeOf(err))
	})
}

func fresh(now time.Time) *Session {
	s := session()
	delete(s.Claims, "firebaseUid")
	s.AuthTime = now.Add(-time.Minute)
	return s
}
