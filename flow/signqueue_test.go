package flow

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/dfbridge/dfbridge/bridge"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedMinter is an in-memory Minter whose calls wait on release, recording
// the order they started in and how many ran at once.
type gatedMinter struct {
	release chan struct{}

	mu      sync.Mutex
	running int
	most    int
	started []string
}

func (m *gatedMinter) Mint(_ context.Context, id bridge.Identity) (*bridge.CustomToken, error) {
	m.mu.Lock()
	m.running++
	m.most = max(m.most, m.running)
	m.started = append(m.started, id.UID)
	m.mu.Unlock()
	<-m.release
	m.mu.Lock()
	m.running--
	m.mu.Unlock()
	return &bridge.CustomToken{Token: "token-for-" + id.UID}, nil
}

func TestSignQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := &gatedMinter{release: make(chan struct{})}
		q, err := NewSignQueue(inner, 2)
		require.NoError(t, err)

		var wg sync.WaitGroup
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok, err := q.Mint(context.Background(), bridge.Identity{UID: fmt.Sprint("U", i)})
				assert.NoError(t, err)
				assert.Equal(t, fmt.Sprint("token-for-U", i), tok.Token)
			}()
			synctest.Wait() // U<i> has started or is waiting before U<i+1> arrives
		}
		for range 6 {
			inner.release <- struct{}{}
			synctest.Wait()
		}
		wg.Wait()

		assert.Equal(t, 2, inner.most, "no more signatures run at once than the queue has slots")
		assert.Equal(t, []string{"U0", "U1", "U2", "U3", "U4", "U5"}, inner.started, "waiting callers are served in arrival order")
	})
}

func TestSignQueueCallerThatGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := &gatedMinter{release: make(chan struct{})}
		q, err := NewSignQueue(inner, 1)
		require.NoError(t, err)

		go func() { _, _ = q.Mint(context.Background(), bridge.Identity{UID: "U0"}) }()
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := q.Mint(ctx, bridge.Identity{UID: "U1"})
			done <- err
		}()
		synctest.Wait()
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled, "a waiting caller leaves with its own cancellation")
		inner.release <- struct{}{}
		synctest.Wait()
		assert.Equal(t, []string{"U0"}, inner.started, "a caller that gave up never signs")
	})
}

func TestNewSignQueueNeedsASlot(t *testing.T) {
	_, err := NewSignQueue(&gatedMinter{}, 0)
	assert.Error(t, err)
}
