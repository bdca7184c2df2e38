package bridge

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memDirectory is an in-memory UserDirectory: accounts by tenant and email.
type memDirectory struct {
	mu       sync.Mutex
	accounts map[string][]DirectoryUser // tenant + "/" + email
	fail     error
	lookups  atomic.Int64
	// gate, when set, holds every look-up until it is closed.
	gate chan struct{}
}

func newMemDirectory() *memDirectory { return &memDirectory{accounts: map[string][]DirectoryUser{}} }

func (d *memDirectory) add(tenant, email string, u DirectoryUser) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.accounts[tenant+"/"+email] = append(d.accounts[tenant+"/"+email], u)
}

func (d *memDirectory) FindByEmail(_ context.Context, tenant, email string) ([]DirectoryUser, error) {
	d.lookups.Add(1)
	if d.gate != nil {
		<-d.gate
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return nil, d.fail
	}
	return append([]DirectoryUser(nil), d.accounts[tenant+"/"+email]...), nil
}

// memUsers is an in-memory UserLoader.
type memUsers struct {
	users map[string]*DescopeUser
	fail  error
	loads atomic.Int64
}

func (u *memUsers) LoadUser(_ context.Context, id string) (*DescopeUser, error) {
	u.loads.Add(1)
	if u.fail != nil {
		return nil, u.fail
	}
	if du, ok := u.users[id]; ok {
		return du, nil
	}
	return nil, ErrUserNotFound
}

func migrationConfig() MigrationConfig {
	return MigrationConfig{
		UIDClaim: "firebaseUid", ByEmail: true, EmailFromDescope: true,
		RequireVerifiedAccountEmail: true, CacheTTL: time.Minute, CacheSize: 100,
	}
}

func TestMigrationResolve(t *testing.T) {
	cases := []struct {
		name   string
		cfg    func(*MigrationConfig)
		setup  func(*memDirectory, *memUsers)
		edit   func(*Session)
		tenant string
		uid    string // "" with code "" means: no existing account
		code   Code
	}{
		{name: "the explicit claim wins over everything",
			setup: func(d *memDirectory, _ *memUsers) {
				d.add("", "ada@example.com", DirectoryUser{UID: "X", EmailVerified: true})
			},
			uid: "legacy-42"},
		{name: "an explicit claim that is not a string is refused",
			edit: func(s *Session) { s.Claims["firebaseUid"] = json42() }, code: CodeInvalidClaims},
		{name: "an explicit claim over 128 bytes is refused",
			edit: func(s *Session) { s.Claims["firebaseUid"] = string(make([]byte, 129)) }, code: CodeUIDTooLong},
		{name: "a verified email matching one verified account links to it",
			edit: noClaim,
			setup: func(d *memDirectory, _ *memUsers) {
				d.add("", "ada@example.com", DirectoryUser{UID: "X", EmailVerified: true})
			},
			uid: "X"},
		{name: "the look-up happens in the session's Firebase tenant",
			edit: noClaim, tenant: "acme-1",
			setup: func(d *memDirectory, _ *memUsers) {
				d.add("", "ada@example.com", DirectoryUser{UID: "project-user", EmailVerified: true})
				d.add("acme-1", "ada@example.com", DirectoryUser{UID: "tenant-user", EmailVerified: true})
			},
			uid: "tenant-user"},
		{name: "no account with the email leaves the normal strategy", edit: noClaim},
		{name: "an unverified session email that matches an account is refused, not linked",
			edit: func(s *Session) {
				noClaim(s)
				s.EmailVerified = false
			},
			cfg: func(c *MigrationConfig) { c.EmailFromDescope = false },
			setup: func(d *memDirectory, _ *memUsers) {
				d.add("", "ada@example.com", DirectoryUser{UID: "X", EmailVerified: true})
			},
			code: CodeEmailNotVerified},
		{name: "an unverified session email with no match leaves the normal strategy",
			edit: func(s *Session) { noClaim(s); s.EmailVerified = false },
			cfg:  func(c *MigrationConfig) { c.EmailFromDescope = false }},
		{name: "two accounts with the email are refused as ambiguous",
			edit: noClaim,
			setup: func(d *memDirectory, _ *memUsers) {
				d.add("", "ada@example.com", DirectoryUser{UID: "X", EmailVerified: true})
				d.add("", "ada@example.com", DirectoryUser{UID: "Y", EmailVerified: true})
			},
			code: CodeAmbiguousAccount},
		{name: "an account whose own email is unverified is refused",
			edit:  noClaim,
			setup: func(d *memDirectory, _ *memUsers) { d.add("", "ada@example.com", DirectoryUser{UID: "X"}) },
			code:  CodeAccountEmailNotVerified},
		{name: "an account whose own email is unverified links when the config allows it",
			edit:  noClaim,
			cfg:   func(c *MigrationConfig) { c.RequireVerifiedAccountEmail = false },
			setup: func(d *memDirectory, _ *memUsers) { d.add("", "ada@example.com", DirectoryUser{UID: "X"}) },
			uid:   "X"},
		{name: "a disabled account is refused",
			edit: noClaim,
			setup: func(d *memDirectory, _ *memUsers) {
				d.add("", "ada@example.com", DirectoryUser{UID: "X", EmailVerified: true, Disabled: true})
			},
			code: CodeUserDisabled},
		{name: "a session without email takes the verified email from Descope",
			edit: func(s *Session) { noClaim(s); s.Email, s.EmailVerified = "", false },
			setup: func(d *memDirectory, u *memUsers) {
				u.users["U2abc"] = &DescopeUser{UserID: "U2abc", Email: "Ada@Example.com", EmailVerified: true}
				d.add("", "ada@example.com", DirectoryUser{UID: "X", EmailVerified: true})
			},
			uid: "X"},
		{name: "a session email Descope has not verified is refused when it matches",
			edit: func(s *Session) { noClaim(s); s.Email, s.EmailVerified = "", false },
			setup: func(d *memDirectory, u *memUsers) {
				u.users["U2abc"] = &DescopeUser{UserID: "U2abc", Email: "ada@example.com"}
				d.add("", "ada@example.com", DirectoryUser{UID: "X", EmailVerified: true})
			},
			code: CodeEmailNotVerified},
		{name: "a user Descope no longer knows leaves the normal strategy",
			edit: func(s *Session) { noClaim(s); s.Email = "" }},
		{name: "without Descope look-ups a session without email leaves the normal strategy",
			edit:  func(s *Session) { noClaim(s); s.Email = "" },
			cfg:   func(c *MigrationConfig) { c.EmailFromDescope = false },
			setup: func(_ *memDirectory, u *memUsers) { u.fail = errors.New("must not be called") }},
		{name: "a malformed email never reaches the directory",
			edit:  func(s *Session) { noClaim(s); s.Email = "not-an-email" },
			setup: func(d *memDirectory, _ *memUsers) { d.fail = errors.New("must not be called") }},
		{name: "claim-only migration ignores the email",
			edit: noClaim,
			cfg:  func(c *MigrationConfig) { c.ByEmail, c.EmailFromDescope = false, false },
			setup: func(d *memDirectory, _ *memUsers) {
				d.add("", "ada@example.com", DirectoryUser{UID: "X", EmailVerified: true})
			}},
		{name: "a directory failure is an upstream error",
			edit:  noClaim,
			setup: func(d *memDirectory, _ *memUsers) { d.fail = errors.New("boom") },
			code:  CodeUpstream},
		{name: "a Descope failure is an upstream error",
			edit:  func(s *Session) { noClaim(s); s.Email = "" },
			setup: func(_ *memDirectory, u *memUsers) { u.fail = errors.New("boom") },
			code:  CodeUpstream},
		{name: "an adapter's own code is kept",
			edit:  noClaim,
			setup: func(d *memDirectory, _ *memUsers) { d.fail = Errorf(CodeTenantNotMapped, "no such tenant") },
			code:  CodeTenantNotMapped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := migrationConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			dir, users := newMemDirectory(), &memUsers{users: map[string]*DescopeUser{}}
			if tc.setup != nil {
				tc.setup(dir, users)
			}
			r, err := NewMigrator(cfg, dir, users, testMemos())
			require.NoError(t, err)
			s := session()
			if tc.edit != nil {
				tc.edit(s)
			}
			uid, err := r.Resolve(context.Background(), s, tc.tenant)
			if tc.code != "" {
				requireCode(t, err, tc.code)
				assert.Empty(t, uid)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.uid, uid)
		})
	}
}

func noClaim(s *Session) { delete(s.Claims, "firebaseUid") }

func json42() any { return map[string]any{"n": 42} }

func TestMigrationCache(t *testing.T) {
	setup := func(t *testing.T, size int) (*Migrator, *memDirectory, *memUsers) {
		dir, users := newMemDirectory(), &memUsers{users: map[string]*DescopeUser{}}
		cfg := migrationConfig()
		cfg.CacheSize = size
		r, err := NewMigrator(cfg, dir, users, testMemos())
		require.NoError(t, err)
		return r, dir, users
	}
	noEmail := func(id string) *Session {
		s := session()
		noClaim(s)
		s.UserID, s.Email = id, ""
		return s
	}

	t.Run("a sign-in storm by one user costs one look-up of each kind", func(t *testing.T) {
		r, dir, users := setup(t, 100)
		users.users["U1"] = &DescopeUser{UserID: "U1", Email: "u1@example.com", EmailVerified: true}
		dir.add("", "u1@example.com", DirectoryUser{UID: "X1", EmailVerified: true})
		for i := 0; i < 50; i++ {
			uid, err := r.Resolve(context.Background(), noEmail("U1"), "")
			require.NoError(t, err)
			assert.Equal(t, "X1", uid)
		}
		assert.Equal(t, int64(1), dir.lookups.Load())
		assert.Equal(t, int64(1), users.loads.Load())
	})
	t.Run("concurrent look-ups of one email are merged into one", func(t *testing.T) {
		r, dir, _ := setup(t, 100)
		dir.gate = make(chan struct{})
		dir.add("", "ada@example.com", DirectoryUser{UID: "X", EmailVerified: true})
		s := session()
		noClaim(s)
		var wg sync.WaitGroup
		uids := make([]string, 20)
		for i := range uids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				uids[i], _ = r.Resolve(context.Background(), s, "")
			}()
		}
		// Let the first look-up start, then release it; stragglers find
		// the answer cached or join the flight.
		require.Eventually(t, func() bool { return dir.lookups.Load() >= 1 }, 5*time.Second, time.Millisecond)
		close(dir.gate)
		wg.Wait()
		assert.Equal(t, int64(1), dir.lookups.Load())
		for _, uid := range uids {
			assert.Equal(t, "X", uid)
		}
	})
	t.Run("a user with no account is cached too, since new users are the common case", func(t *testing.T) {
		r, dir, _ := setup(t, 100)
		s := session()
		noClaim(s)
		for i := 0; i < 5; i++ {
			uid, err := r.Resolve(context.Background(), s, "")
			require.NoError(t, err)
			assert.Empty(t, uid)
		}
		assert.Equal(t, int64(1), dir.lookups.Load())
	})
	t.Run("failures are not cached", func(t *testing.T) {
		r, dir, _ := setup(t, 100)
		s := session()
		noClaim(s)
		dir.fail = errors.New("boom")
		_, err := r.Resolve(context.Background(), s, "")
		require.Error(t, err)
		dir.fail = nil
		dir.add("", "ada@example.com", DirectoryUser{UID: "X", EmailVerified: true})
		uid, err := r.Resolve(context.Background(), s, "")
		require.NoError(t, err)
		assert.Equal(t, "X", uid)
		assert.Equal(t, int64(2), dir.lookups.Load())
	})
	t.Run("tenants are cached apart", func(t *testing.T) {
		r, dir, _ := setup(t, 100)
		dir.add("t-a", "ada@example.com", DirectoryUser{UID: "A", EmailVerified: true})
		dir.add("t-b", "ada@example.com", DirectoryUser{UID: "B", EmailVerified: true})
		s := session()
		noClaim(s)
		a, err := r.Resolve(context.Background(), s, "t-a")
		require.NoError(t, err)
		b, err := r.Resolve(context.Background(), s, "t-b")
		require.NoError(t, err)
		assert.Equal(t, []string{"A", "B"}, []string{a, b})
	})
}

func TestNewMigratorRefusesMissingParts(t *testing.T) {
	cfg := migrationConfig()
	_, err := NewMigrator(cfg, nil, &memUsers{}, testMemos())
	assert.ErrorContains(t, err, "user directory")
	_, err = NewMigrator(cfg, newMemDirectory(), nil, testMemos())
	assert.ErrorContains(t, err, "DESCOPE_MANAGEMENT_KEY")
	_, err = NewMigrator(cfg, newMemDirectory(), &memUsers{}, MigrationMemos{})
	assert.ErrorContains(t, err, "memos")
}

// mapMemo is a Memo that never forgets, for tests of the Migrator's logic;
// flow.NewMemo's bounds are tested in flow.
type mapMemo[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

func (m *mapMemo[V]) Get(k string) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[k]
	return v, ok
}

func (m *mapMemo[V]) Add(k string, v V) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[k] = v
	return false
}

func testMemos() MigrationMemos {
	return MigrationMemos{
		Accounts: &mapMemo[[]DirectoryUser]{m: map[string][]DirectoryUser{}},
		Emails:   &mapMemo[EmailFact]{m: map[string]EmailFact{}},
	}
}
