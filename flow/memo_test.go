package flow_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/flow"
)

// countingUsers is a Descope user loader that counts its loads.
type countingUsers struct{ loads atomic.Int64 }

func (u *countingUsers) LoadUser(_ context.Context, id string) (*bridge.DescopeUser, error) {
	u.loads.Add(1)
	return &bridge.DescopeUser{UserID: id}, nil
}

// noAccounts is a Firebase directory with no accounts.
type noAccounts struct{}

func (noAccounts) FindByEmail(context.Context, string, string) ([]bridge.DirectoryUser, error) {
	return nil, nil
}

func TestMigrationMemos(t *testing.T) {
	mc := bridge.MigrationConfig{ByEmail: true, EmailFromDescope: true, CacheTTL: time.Minute, CacheSize: 2}
	resolve := func(t *testing.T, m *bridge.Migrator, id string) {
		t.Helper()
		_, err := m.Resolve(context.Background(), &bridge.Session{UserID: id}, "")
		require.NoError(t, err)
	}
	t.Run("the memory holds at most its size, forgetting the least recent first", func(t *testing.T) {
		memos, err := flow.NewMigrationMemos(mc)
		require.NoError(t, err)
		users := &countingUsers{}
		m, err := bridge.NewMigrator(mc, noAccounts{}, users, memos)
		require.NoError(t, err)
		for _, id := range []string{"A", "B", "C", "A"} {
			resolve(t, m, id)
		}
		assert.Equal(t, int64(4), users.loads.Load(), "A was evicted by C and loaded again")
		resolve(t, m, "C")
		assert.Equal(t, int64(4), users.loads.Load(), "C is still remembered")
	})
	t.Run("an answer is forgotten after the ttl", func(t *testing.T) {
		short := mc
		short.CacheTTL = 20 * time.Millisecond
		memos, err := flow.NewMigrationMemos(short)
		require.NoError(t, err)
		users := &countingUsers{}
		m, err := bridge.NewMigrator(short, noAccounts{}, users, memos)
		require.NoError(t, err)
		resolve(t, m, "A")
		require.Eventually(t, func() bool {
			resolve(t, m, "A")
			return users.loads.Load() >= 2
		}, 5*time.Second, 10*time.Millisecond)
	})
	t.Run("a memory needs a positive size and ttl", func(t *testing.T) {
		bad := mc
		bad.CacheTTL = 0
		_, err := flow.NewMigrationMemos(bad)
		assert.ErrorContains(t, err, "positive TTL")
	})
}
