package flow_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/flow"
)

func userJob(id string) bridge.Job { return bridge.Job{Kind: bridge.JobUser, UserID: id} }

func TestMemoryQueue(t *testing.T) {
	fast := bridge.Retry{Attempts: 3, Base: time.Millisecond, Max: 2 * time.Millisecond}

	t.Run("jobs for one waiting user merge into one", func(t *testing.T) {
		q := flow.NewMemoryQueue(10)
		require.NoError(t, q.Enqueue(t.Context(), []bridge.Job{userJob("U1"), {Kind: bridge.JobUser, UserID: "U1", Revoke: true, LoginIDs: []string{"a"}}}))
		require.NoError(t, q.Enqueue(t.Context(), []bridge.Job{{Kind: bridge.JobUser, UserID: "U1", LoginIDs: []string{"b"}}}))
		assert.Equal(t, 1, q.Depth())
		var got []bridge.Job
		q.Close()
		q.Run(t.Context(), 1, fast, func(_ context.Context, j bridge.Job) error { got = append(got, j); return nil }, nil)
		require.Len(t, got, 1)
		assert.True(t, got[0].Revoke)
		assert.Equal(t, []string{"a", "b"}, got[0].LoginIDs)
	})

	t.Run("a full queue takes none of a batch", func(t *testing.T) {
		q := flow.NewMemoryQueue(2)
		require.NoError(t, q.Enqueue(t.Context(), []bridge.Job{userJob("U1")}))
		err := q.Enqueue(t.Context(), []bridge.Job{userJob("U2"), userJob("U3")})
		assert.ErrorIs(t, err, bridge.ErrQueueFull)
		assert.Equal(t, 1, q.Depth(), "nothing of the refused batch was taken")
		assert.NoError(t, q.Enqueue(t.Context(), []bridge.Job{userJob("U1"), userJob("U2")}), "a waiting user costs no room")
	})

	t.Run("a closed queue refuses jobs and its workers finish what waits", func(t *testing.T) {
		q := flow.NewMemoryQueue(10)
		require.NoError(t, q.Enqueue(t.Context(), []bridge.Job{userJob("U1"), userJob("U2")}))
		q.Close()
		assert.ErrorIs(t, q.Enqueue(t.Context(), []bridge.Job{userJob("U3")}), bridge.ErrQueueClosed)
		var ran atomic.Int32
		left := q.Run(t.Context(), 2, fast, func(context.Context, bridge.Job) error { ran.Add(1); return nil }, nil)
		assert.Equal(t, int32(2), ran.Load())
		assert.Zero(t, left)
	})

	t.Run("one user is never synced twice at once, and a job that arrives mid-run runs after it", func(t *testing.T) {
		q := flow.NewMemoryQueue(10)
		require.NoError(t, q.Enqueue(t.Context(), []bridge.Job{userJob("U1")}))
		var running, overlaps, runs atomic.Int32
		started := make(chan struct{}, 10)
		release := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			q.Run(ctx, 4, fast, func(context.Context, bridge.Job) error {
				if running.Add(1) > 1 {
					overlaps.Add(1)
				}
				runs.Add(1)
				started <- struct{}{}
				<-release
				running.Add(-1)
				return nil
			}, nil)
		}()
		<-started
		require.NoError(t, q.Enqueue(t.Context(), []bridge.Job{userJob("U1")}))
		close(release)
		<-started
		require.NoError(t, q.WaitIdle(t.Context()))
		cancel()
		<-done
		assert.Equal(t, int32(2), runs.Load())
		assert.Zero(t, overlaps.Load())
	})

	t.Run("a retryable failure is retried; one no retry can fix is not", func(t *testing.T) {
		q := flow.NewMemoryQueue(10)
		require.NoError(t, q.Enqueue(t.Context(), []bridge.Job{userJob("flaky"), userJob("broken"), userJob("down")}))
		q.Close()
		var mu sync.Mutex
		tries := map[string]int{}
		var dropped []string
		q.Run(t.Context(), 1, fast, func(_ context.Context, j bridge.Job) error {
			mu.Lock()
			defer mu.Unlock()
			tries[j.UserID]++
			switch {
			case j.UserID == "flaky" && tries[j.UserID] < 3:
				return bridge.Wrap(bridge.CodeUpstream, errors.New("503"), "firebase")
			case j.UserID == "broken":
				return bridge.Errorf(bridge.CodeUIDTooLong, "uid too long")
			case j.UserID == "down":
				return bridge.Wrap(bridge.CodeUpstream, errors.New("429"), "descope")
			}
			return nil
		}, func(j bridge.Job, _ error) { dropped = append(dropped, j.UserID) })
		assert.Equal(t, map[string]int{"flaky": 3, "broken": 1, "down": 3}, tries)
		assert.ElementsMatch(t, []string{"broken", "down"}, dropped)
	})

	t.Run("backoff stays within its ceiling", func(t *testing.T) {
		r := bridge.Retry{Attempts: 5, Base: 100 * time.Millisecond, Max: 300 * time.Millisecond}
		for n := 1; n <= 6; n++ {
			d := r.Backoff(n)
			assert.GreaterOrEqual(t, d, time.Duration(0))
			assert.LessOrEqual(t, d, min(300*time.Millisecond, 100*time.Millisecond<<(n-1)))
		}
	})
}
