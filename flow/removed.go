package flow

import (
	"context"
	"sync"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
)

// MemoryRemoved is RemovedUsers in this process's memory. It holds at most
// max marks (about 100 bytes each); when full it forgets the marks that
// expire soonest, which Firebase still backs: the removed user's account is
// disabled, or a disabled placeholder when it had none (see Lifecycle).
type MemoryRemoved struct {
	mu    sync.Mutex
	marks map[string]time.Time
	max   int
	now   func() time.Time
}

var _ bridge.RemovedUsers = (*MemoryRemoved)(nil)

// NewMemoryRemoved returns an empty set that holds up to capacity marks.
func NewMemoryRemoved(capacity int) *MemoryRemoved {
	return &MemoryRemoved{marks: map[string]time.Time{}, max: capacity, now: time.Now}
}

// MarkRemoved implements RemovedUsers.
func (m *MemoryRemoved) MarkRemoved(_ context.Context, userID string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if _, ok := m.marks[userID]; !ok && len(m.marks) >= m.max {
		m.evict(now)
	}
	if until := now.Add(ttl); until.After(m.marks[userID]) {
		m.marks[userID] = until
	}
	return nil
}

// evict drops expired marks, and if none were, the one expiring soonest.
func (m *MemoryRemoved) evict(now time.Time) {
	var soonest string
	var at time.Time
	for id, until := range m.marks {
		if !until.After(now) {
			delete(m.marks, id)
			continue
		}
		if soonest == "" || until.Before(at) {
			soonest, at = id, until
		}
	}
	if len(m.marks) >= m.max && soonest != "" {
		delete(m.marks, soonest)
	}
}

// Restore implements RemovedUsers.
func (m *MemoryRemoved) Restore(_ context.Context, userID string) error {
	m.mu.Lock()
	delete(m.marks, userID)
	m.mu.Unlock()
	return nil
}

// Removed implements RemovedUsers.
func (m *MemoryRemoved) Removed(_ context.Context, userID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	until, ok := m.marks[userID]
	if ok && !until.After(m.now()) {
		delete(m.marks, userID)
		return false, nil
	}
	return ok, nil
}

// RemovalGate refuses the results of exchanges for users marked removed,
// whichever way the result was reached (a fresh exchange, the repeat
// cache, the connector), and asks for each new user's Firebase account to
// be adopted by lifecycle sync. It checks after the exchange, so a cached
// result is checked too; a removed user costs one wasted signature.
type RemovalGate struct {
	Removed bridge.RemovedUsers
	// Adopt, when set, is called with the Descope user of every successful
	// exchange, after the check; it must not block (see Adopter).
	Adopt func(userID string)
}

// Check returns res, or user_removed when its user is marked. A failing
// store is not a pass: the exchange fails as upstream, to be retried.
func (g *RemovalGate) Check(ctx context.Context, res *bridge.Result) (*bridge.Result, error) {
	if res.User == "" {
		return res, nil
	}
	removed, err := g.Removed.Removed(ctx, res.User)
	if err != nil {
		return nil, bridge.Wrap(bridge.CodeUpstream, err, "reading removed users")
	}
	if removed {
		return nil, bridge.Errorf(bridge.CodeUserRemoved, "descope user was deleted or disabled")
	}
	if g.Adopt != nil {
		g.Adopt(res.User)
	}
	return res, nil
}

// Gate wraps next so that its results pass the gate, whichever way they
// are reached: a session token or a session Descope vouched for.
func (g *RemovalGate) Gate(next bridge.Exchanger) bridge.Exchanger {
	return gated{g: g, next: next}
}

type gated struct {
	g    *RemovalGate
	next bridge.Exchanger
}

func (t gated) Exchange(ctx context.Context, token string) (*bridge.Result, error) {
	return t.check(ctx)(t.next.Exchange(ctx, token))
}

func (t gated) ExchangeSession(ctx context.Context, s *bridge.Session) (*bridge.Result, error) {
	return t.check(ctx)(t.next.ExchangeSession(ctx, s))
}

// check passes an exchange's outcome through the gate.
func (t gated) check(ctx context.Context) func(*bridge.Result, error) (*bridge.Result, error) {
	return func(res *bridge.Result, err error) (*bridge.Result, error) {
		if err != nil {
			return nil, err
		}
		return t.g.Check(ctx, res)
	}
}
