package firebase

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTripFunc is an http.RoundTripper made of a function: IAM's answers.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func signBlobRequest(ctx context.Context, t *testing.T) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:signBlob",
		strings.NewReader(`{"payload":"eA=="}`))
	require.NoError(t, err)
	return req
}

func answer(status int) *http.Response {
	return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}}
}

// Callers hanging up mid-call are ordinary traffic, not IAM failing: many
// of them in a row leave the breaker closed, and the next call succeeds.
func TestHangUpsDoNotOpenTheBreaker(t *testing.T) {
	var healthy atomic.Bool
	tr := newIAMTransport(IAMOptions{BreakerFailures: 8, Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if healthy.Load() {
			return answer(200), nil
		}
		<-r.Context().Done() // IAM is slow; the caller gives up first
		return nil, r.Context().Err()
	})})
	for range 100 {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(time.Millisecond); cancel() }()
		_, err := tr.RoundTrip(signBlobRequest(ctx, t))
		require.Error(t, err)
	}
	for range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, err := tr.RoundTrip(signBlobRequest(ctx, t))
		cancel()
		require.Error(t, err, "the caller's own deadline")
	}
	open, _ := tr.open()
	assert.False(t, open, "200 hang-ups and caller deadlines are not IAM failures")
	healthy.Store(true)
	resp, err := tr.RoundTrip(signBlobRequest(context.Background(), t))
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
}

// The signing deadline running out is IAM being too slow, and counts.
func TestTheSigningDeadlineCountsAgainstIAM(t *testing.T) {
	tr := newIAMTransport(IAMOptions{BreakerFailures: 3, Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	})})
	for range 3 {
		ctx, cancel := signingContext(context.Background(), time.Millisecond)
		_, err := tr.RoundTrip(signBlobRequest(ctx, t))
		cancel()
		require.Error(t, err)
	}
	open, _ := tr.open()
	assert.True(t, open)
}

// An open breaker recovers by letting one probe through after the
// cool-down: while it is in flight others still fail fast; its success
// closes the breaker, its failure opens it again.
func TestTheBreakerRecoversThroughAHalfOpenProbe(t *testing.T) {
	var status atomic.Int32
	status.Store(500)
	release := make(chan struct{})
	var hold atomic.Bool
	tr := newIAMTransport(IAMOptions{BreakerFailures: 2, BreakerCooldown: time.Minute,
		Base: roundTripFunc(func(_ *http.Request) (*http.Response, error) {
			if hold.Load() {
				<-release
			}
			return answer(int(status.Load())), nil
		})})
	clock := time.Now()
	tr.now = func() time.Time { return clock }
	for range 2 {
		_, err := tr.RoundTrip(signBlobRequest(context.Background(), t))
		require.NoError(t, err)
	}
	_, err := tr.RoundTrip(signBlobRequest(context.Background(), t))
	require.ErrorIs(t, err, errBreakerOpen, "two 5xx in a row open it")

	clock = clock.Add(2 * time.Minute)
	_, err = tr.RoundTrip(signBlobRequest(context.Background(), t))
	require.NoError(t, err, "after the cool-down a probe goes through")
	_, err = tr.RoundTrip(signBlobRequest(context.Background(), t))
	require.ErrorIs(t, err, errBreakerOpen, "the failed probe opened it again")

	clock = clock.Add(2 * time.Minute)
	status.Store(200)
	hold.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(signBlobRequest(context.Background(), t))
		done <- err
	}()
	require.Eventually(t, func() bool { tr.mu.Lock(); defer tr.mu.Unlock(); return tr.probing }, 5*time.Second, time.Millisecond)
	_, err = tr.RoundTrip(signBlobRequest(context.Background(), t))
	assert.True(t, errors.Is(err, errBreakerOpen), "one probe at a time")
	close(release)
	require.NoError(t, <-done)
	hold.Store(false)
	resp, err := tr.RoundTrip(signBlobRequest(context.Background(), t))
	require.NoError(t, err, "the successful probe closed it")
	assert.Equal(t, 200, resp.StatusCode)
}
