package bridge

import (
	"context"
	"sync"
	"time"
)

// RemovedUsers remembers the Descope users the bridge has learnt are
// deleted or disabled, so that no exchange and no connector call for them
// succeeds while a session or custom token issued before could still be
// used. A mark expires after its TTL; Restore lifts it early when Descope
// enables the user again. Implementations: MemoryRemoved for one instance,
// redisstore.Removed for every instance (and across restarts).
type RemovedUsers interface {
	MarkRemoved(ctx context.Context, userID string, ttl time.Duration) error
	Restore(ctx context.Context, userID string) error
	// Removed reports whether userID carries a live mark.
	Removed(ctx context.Context, userID string) (bool, error)
}

// DefaultRemovedTTL is how long a removal mark holds by default: longer
// than any Descope session-token timeout a project is likely to set (ten
// minutes by default), plus the custom token's hour.
const DefaultRemovedTTL = 7 * 24 * time.Hour

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

var _ RemovedUsers = (*MemoryRemoved)(nil)

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
	Removed RemovedUsers
	// Adopt, when set, is called with the Descope user of every successful
	// exchange, after the check; it must not block (see Adopter).
	Adopt func(userID string)
}

// Check returns res, or user_removed when its user is marked. A failing
// store is not a pass: the exchange fails as upstream, to be retried.
func (g *RemovalGate) Check(ctx context.Context, res *Result) (*Result, error) {
	if res.User == "" {
		return res, nil
	}
	removed, err := g.Removed.Removed(ctx, res.User)
	if err != nil {
		return nil, Wrap(CodeUpstream, err, "reading removed users")
	}
	if removed {
		return nil, Errorf(CodeUserRemoved, "descope user was deleted or disabled")
	}
	if g.Adopt != nil {
		g.Adopt(res.User)
	}
	return res, nil
}

// Tokens wraps next so that its results pass the gate.
func (g *RemovalGate) Tokens(next TokenExchanger) TokenExchanger {
	return gatedTokens{g: g, next: next}
}

// Sessions wraps next so that its results pass the gate.
func (g *RemovalGate) Sessions(next SessionExchanger) SessionExchanger {
	return gatedSessions{g: g, next: next}
}

// SessionExchanger exchanges a session already verified: the connector's.
type SessionExchanger interface {
	ExchangeSession(ctx context.Context, s *Session) (*Result, error)
}

type gatedTokens struct {
	g    *RemovalGate
	next TokenExchanger
}

func (t gatedTokens) Exchange(ctx context.Context, token string) (*Result, error) {
	res, err := t.next.Exchange(ctx, token)
	if err != nil {
		return nil, err
	}
	return t.g.Check(ctx, res)
}

type gatedSessions struct {
	g    *RemovalGate
	next SessionExchanger
}

func (t gatedSessions) ExchangeSession(ctx context.Context, s *Session) (*Result, error) {
	res, err := t.next.ExchangeSession(ctx, s)
	if err != nil {
		return nil, err
	}
	return t.g.Check(ctx, res)
}
