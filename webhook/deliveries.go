package webhook

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// MemoryMarks remembers accepted audit events in this instance's memory,
// bounded in count and age. Descope's signature carries no timestamp or
// nonce, so an event sent twice (a retry, or a replay by whoever captured a
// delivery) is byte-identical: remembering it lets the second one change
// nothing. Beyond the window, replays are still harmless, because jobs
// re-read the user from Descope instead of trusting the payload. With
// several instances, the Redis implementation shares the memory.
//
// Whole deliveries (keys from deliveryKey) are remembered apart from
// events, so a delivery with more events than the memory holds cannot evict
// its own mark.
type MemoryMarks struct {
	mu         sync.Mutex
	seen       *expirable.LRU[string, struct{}]
	deliveries *expirable.LRU[string, struct{}]
}

var _ EventMarks = (*MemoryMarks)(nil)

// NewMemoryMarks remembers up to size events for window each.
func NewMemoryMarks(size int, window time.Duration) *MemoryMarks {
	return &MemoryMarks{seen: expirable.NewLRU[string, struct{}](size, nil, window),
		deliveries: expirable.NewLRU[string, struct{}](size, nil, window)}
}

func (m *MemoryMarks) lru(key string) *expirable.LRU[string, struct{}] {
	if strings.HasPrefix(key, deliveryPrefix) {
		return m.deliveries
	}
	return m.seen
}

// Claim implements EventMarks.
func (m *MemoryMarks) Claim(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.lru(key)
	if _, ok := l.Peek(key); ok {
		return false, nil
	}
	l.Add(key, struct{}{})
	return true, nil
}

// Release implements EventMarks.
func (m *MemoryMarks) Release(_ context.Context, key string) error {
	m.lru(key).Remove(key)
	return nil
}
