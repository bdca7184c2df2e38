package flow

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dfbridge/dfbridge/bridge"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedExchanger wraps gatedMinter's bookkeeping as a TokenExchanger: each
// exchange starts, is recorded, and waits for release.
type gatedExchanger struct{ gatedMinter }

func (x *gatedExchanger) Exchange(ctx context.Context, token string) (*bridge.Result, error) {
	tok, err := x.Mint(ctx, bridge.Identity{UID: token})
	if err != nil {
		return nil, err
	}
	return &bridge.Result{Token: tok.Token, UID: token}, nil
}

func (x *gatedExchanger) ExchangeSession(ctx context.Context, s *bridge.Session) (*bridge.Result, error) {
	return x.Exchange(ctx, s.UserID)
}

func newGatedAdmission(t *testing.T, cfg AdmissionConfig) (*gatedExchanger, *Admission) {
	inner := &gatedExchanger{gatedMinter{release: make(chan struct{})}}
	a, err := NewAdmission(inner, cfg)
	require.NoError(t, err)
	return inner, a
}

func TestAdmissionRunsABoundedNumberInArrivalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner, a := newGatedAdmission(t, AdmissionConfig{InFlight: 2, MaxQueue: 10, MaxWait: time.Minute})
		var waits []time.Duration
		var mu sync.Mutex
		a.Observe = func(d time.Duration) { mu.Lock(); waits = append(waits, d); mu.Unlock() }

		var wg sync.WaitGroup
		for i := range 7 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Exchanges of tokens and of verified sessions (the
				// connector route) share the one queue.
				exchange := func() (*bridge.Result, error) { return a.Exchange(context.Background(), fmt.Sprint("U", i)) }
				if i%2 == 1 {
					exchange = func() (*bridge.Result, error) {
						return a.ExchangeSession(context.Background(), &bridge.Session{UserID: fmt.Sprint("U", i)})
					}
				}
				res, err := exchange()
				assert.NoError(t, err)
				assert.Equal(t, fmt.Sprint("token-for-U", i), res.Token)
			}()
			synctest.Wait() // U<i> runs or waits before U<i+1> arrives
		}
		for range 7 {
			time.Sleep(time.Second) // each turn takes a second of the fake clock
			inner.release <- struct{}{}
			synctest.Wait()
		}
		wg.Wait()

		assert.Equal(t, 2, inner.most, "no more exchanges run at once than the queue admits")
		assert.Equal(t, []string{"U0", "U1", "U2", "U3", "U4", "U5", "U6"}, inner.started, "waiting exchanges are admitted in arrival order")
		require.Len(t, waits, 7)
		assert.Equal(t, []time.Duration{0, 0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second, 5 * time.Second}, waits,
			"each waits for those ahead of it")
	})
}

func TestAdmissionShedsWhenTheQueueIsFullOrTheWaitTooLong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner, a := newGatedAdmission(t, AdmissionConfig{InFlight: 1, MaxQueue: 1, MaxWait: 3 * time.Second})
		go func() { _, _ = a.Exchange(context.Background(), "U0") }()
		synctest.Wait()
		waited := make(chan error)
		go func() {
			_, err := a.Exchange(context.Background(), "U1")
			waited <- err
		}()
		synctest.Wait()

		_, err := a.Exchange(context.Background(), "U2")
		assert.Equal(t, bridge.CodeBusy, bridge.CodeOf(err), "a full queue sheds at once")

		err = <-waited // U0 never finishes: U1 gives up after MaxWait
		assert.Equal(t, bridge.CodeBusy, bridge.CodeOf(err))
		assert.Equal(t, []string{"U0"}, inner.started)

		// The shed waiter left the queue: the next one may wait again.
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		_, err = a.Exchange(ctx, "U3")
		assert.ErrorIs(t, err, context.Canceled, "a caller that gives up leaves with its own error")
		inner.release <- struct{}{}
		synctest.Wait()
	})
}

func TestAdmissionConfigIsChecked(t *testing.T) {
	for _, cfg := range []AdmissionConfig{
		{InFlight: 0, MaxQueue: 1, MaxWait: time.Second},
		{InFlight: 1, MaxQueue: -1, MaxWait: time.Second},
		{InFlight: 1, MaxQueue: 1},
	} {
		_, err := NewAdmission(&gatedExchanger{}, cfg)
		assert.Error(t, err, "%+v", cfg)
	}
}
