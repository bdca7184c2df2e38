package descope

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
)

const testProject = "Pkeysource"

// handlerTransport carries requests to an in-process handler instead of a
// socket, so the key policy runs inside a synctest bubble: fake time moves
// the cooldown and the timeouts, and synctest.Wait knows when every caller
// is parked on a fetch.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.h.ServeHTTP(rec, req)
	}()
	select {
	case <-done:
		return rec.Result(), nil
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}

// fetchLog records what KeySource reports through Observe.
type fetchLog struct {
	mu  sync.Mutex
	got []string
}

func (f *fetchLog) observe(reason, outcome string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, reason+"/"+outcome)
}

func (f *fetchLog) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

type keyFixture struct {
	stub  *descopestub.Stub
	keys  *KeySource
	fetch *fetchLog
	logs  *bytes.Buffer
}

// newKeyFixture builds a stand-in and a KeySource reading it in-process.
// Call it inside the synctest bubble so the KeySource's clock is fake.
func newKeyFixture(t *testing.T, cfg KeySourceConfig) *keyFixture {
	t.Helper()
	stub, err := descopestub.New(descopestub.Options{ProjectID: testProject})
	require.NoError(t, err)
	f := &keyFixture{stub: stub, fetch: &fetchLog{}, logs: &bytes.Buffer{}}
	cfg.BaseURL = "http://descope.invalid"
	cfg.ProjectID = testProject
	cfg.HTTPClient = &http.Client{
		Transport:     handlerTransport{stub.Handler()},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(f.logs, nil))
	cfg.Observe = f.fetch.observe
	f.keys = NewKeySource(cfg)
	return f
}

func randomKID(t *testing.T) string {
	b := make([]byte, 12)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "K" + strings.ToUpper(hex.EncodeToString(b))
}

func TestKeySourceIsNotReadyUntilKeysLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newKeyFixture(t, KeySourceConfig{})
		assert.ErrorIs(t, f.keys.Ready(), ErrNoKeys, "not ready before the first load")

		f.stub.SetKeysFault(descopestub.FailWith(http.StatusServiceUnavailable))
		assert.Error(t, f.keys.Refresh(t.Context()))
		assert.ErrorIs(t, f.keys.Ready(), ErrNoKeys, "not ready after a failed load")

		f.stub.SetKeysFault(nil)
		require.NoError(t, f.keys.Refresh(t.Context()))
		assert.NoError(t, f.keys.Ready())
		_, err := f.keys.Key(t.Context(), f.stub.SigningKey().ID)
		assert.NoError(t, err)
	})
}

// Callers that need keys while a fetch is in flight wait for that fetch
// rather than starting their own: one request reaches Descope.
func TestKeySourceMergesConcurrentFetches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newKeyFixture(t, KeySourceConfig{})
		release := make(chan struct{})
		f.stub.SetKeysFault(func(_ http.ResponseWriter) bool {
			<-release
			return false // then serve the real key set
		})

		var wg sync.WaitGroup
		errs := make([]error, 40)
		for i := range errs {
			wg.Go(func() {
				if i%2 == 0 {
					errs[i] = f.keys.Refresh(context.Background())
					return
				}
				_, errs[i] = f.keys.Key(context.Background(), f.stub.SigningKey().ID)
			})
		}
		synctest.Wait() // every caller is parked on the one fetch
		assert.Equal(t, int64(1), f.stub.KeyRequests(), "callers in flight together share one fetch")
		close(release)
		wg.Wait()
		for i, err := range errs {
			assert.NoError(t, err, "caller %d", i)
		}
		assert.Equal(t, int64(1), f.stub.KeyRequests())
	})
}

// Unknown kids cost one fetch per cooldown, however many arrive; a kid that
// no Descope key could have costs none, even before any key is loaded.
func TestKeySourceUnknownKIDCooldown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newKeyFixture(t, KeySourceConfig{UnknownKIDCooldown: 30 * time.Second})
		require.NoError(t, f.keys.Refresh(t.Context()))
		require.Equal(t, int64(1), f.stub.KeyRequests())

		for range 200 {
			_, err := f.keys.Key(t.Context(), randomKID(t))
			assert.ErrorIs(t, err, errUnknownKID)
		}
		assert.Equal(t, int64(2), f.stub.KeyRequests(), "200 unknown kids within one cooldown: one fetch")

		time.Sleep(29 * time.Second)
		_, _ = f.keys.Key(t.Context(), randomKID(t))
		assert.Equal(t, int64(2), f.stub.KeyRequests(), "still inside the cooldown")

		time.Sleep(2 * time.Second)
		_, _ = f.keys.Key(t.Context(), randomKID(t))
		assert.Equal(t, int64(3), f.stub.KeyRequests(), "the cooldown has passed: one more fetch")
		assert.Equal(t, []string{"startup/ok", "unknown_kid/ok", "unknown_kid/ok"}, f.fetch.all())
	})
}

func TestKeySourceMalformedKIDNeverFetches(t *testing.T) {
	kids := map[string]string{
		"empty":                  "",
		"path traversal":         "../../x",
		"10 KB":                  strings.Repeat("K", 10<<10),
		"129 characters":         strings.Repeat("K", 129),
		"a space":                "K1 K2",
		"a slash":                "K1/K2",
		"a URL":                  "https://evil.example/keys",
		"non-ASCII":              "Kü",
		"a NUL byte":             "K\x00",
		"a header-breaking CRLF": "K\r\nX-Injected: 1",
	}
	for name, kid := range kids {
		t.Run("a kid with "+name+" fetches nothing, loaded or not", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newKeyFixture(t, KeySourceConfig{})
				_, err := f.keys.Key(t.Context(), kid)
				assert.Error(t, err)
				assert.Equal(t, int64(0), f.stub.KeyRequests(), "before the first load")

				require.NoError(t, f.keys.Refresh(t.Context()))
				_, err = f.keys.Key(t.Context(), kid)
				assert.ErrorIs(t, err, errUnknownKID)
				assert.Equal(t, int64(1), f.stub.KeyRequests(), "only the load itself")
			})
		})
	}
}

// Every way the key endpoint can fail leaves the last good keys serving, is
// counted and logged, and never hangs a caller past the fetch timeout.
func TestKeySourceKeepsLastGoodKeysThroughFailures(t *testing.T) {
	faults := map[string]func(stub *descopestub.Stub, release <-chan struct{}) func(http.ResponseWriter) bool{
		"an error status": func(*descopestub.Stub, <-chan struct{}) func(http.ResponseWriter) bool {
			return descopestub.FailWith(http.StatusInternalServerError)
		},
		"a hang": func(_ *descopestub.Stub, release <-chan struct{}) func(http.ResponseWriter) bool {
			return descopestub.Hang(release)
		},
		"garbage": func(*descopestub.Stub, <-chan struct{}) func(http.ResponseWriter) bool {
			return descopestub.Serve([]byte("<html>502 Bad Gateway</html>"))
		},
		"an empty key set": func(*descopestub.Stub, <-chan struct{}) func(http.ResponseWriter) bool {
			return descopestub.Serve([]byte(`{"keys":[]}`))
		},
		"only keys of other types": func(*descopestub.Stub, <-chan struct{}) func(http.ResponseWriter) bool {
			return descopestub.Serve([]byte(`{"keys":[{"kty":"EC","kid":"K1","crv":"P-256","x":"AA","y":"AA"},{"kty":"oct","kid":"K2","k":"c2VjcmV0"}]}`))
		},
		"an oversized but valid key set": func(stub *descopestub.Stub, _ <-chan struct{}) func(http.ResponseWriter) bool {
			return descopestub.Serve(oversizedJWKS(stub.JWKS(), 1<<20))
		},
		"a redirect": func(*descopestub.Stub, <-chan struct{}) func(http.ResponseWriter) bool {
			return descopestub.RedirectTo("http://descope.invalid/v2/keys/" + testProject)
		},
	}
	for name, fault := range faults {
		t.Run("after "+name+" the last good keys still serve", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newKeyFixture(t, KeySourceConfig{FetchTimeout: 2 * time.Second})
				require.NoError(t, f.keys.Refresh(t.Context()))
				kid := f.stub.SigningKey().ID
				release := make(chan struct{})
				defer close(release)
				f.stub.SetKeysFault(fault(f.stub, release))

				start := time.Now()
				assert.Error(t, f.keys.Refresh(t.Context()))
				assert.LessOrEqual(t, time.Since(start), 2*time.Second, "bounded by the fetch timeout")
				assert.Equal(t, int64(2), f.stub.KeyRequests(), "no redirect followed, no retry storm")

				pk, err := f.keys.Key(t.Context(), kid)
				assert.NoError(t, err)
				assert.NotNil(t, pk)
				assert.NoError(t, f.keys.Ready())
				assert.Equal(t, []string{"startup/ok", "startup/error"}, f.fetch.all(), "the failure is counted")
				assert.Contains(t, f.logs.String(), "descope key fetch failed; keeping last good keys")
			})
		})
	}
}

// oversizedJWKS pads a real key set to size bytes of valid JSON, so only the
// size cap can refuse it.
func oversizedJWKS(jwks []byte, size int) []byte {
	pad := `,"padding":"` + strings.Repeat("x", size) + `"}`
	return append(bytes.TrimSuffix(jwks, []byte("}")), pad...)
}

// The last good keys serve while Descope fails, but not forever: past
// MaxStale the service says it has no keys rather than trust old ones.
func TestKeySourceStopsServingPastMaxStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newKeyFixture(t, KeySourceConfig{MaxStale: time.Hour})
		require.NoError(t, f.keys.Refresh(t.Context()))
		kid := f.stub.SigningKey().ID
		f.stub.SetKeysFault(descopestub.FailWith(http.StatusBadGateway))

		time.Sleep(59 * time.Minute)
		assert.Error(t, f.keys.Refresh(t.Context()))
		_, err := f.keys.Key(t.Context(), kid)
		assert.NoError(t, err, "within MaxStale the old set serves")

		time.Sleep(2 * time.Minute)
		_, err = f.keys.Key(t.Context(), kid)
		assert.ErrorIs(t, err, ErrNoKeys, "past MaxStale the old set is not trusted")
		assert.ErrorIs(t, f.keys.Ready(), ErrNoKeys)

		f.stub.SetKeysFault(nil)
		require.NoError(t, f.keys.Refresh(t.Context()))
		assert.NoError(t, f.keys.Ready(), "a good fetch restores service")
	})
}

// Run refreshes on its schedule, and a refresh forgets a key Descope removed:
// the SDK alone would trust it forever.
func TestKeySourceRunForgetsRemovedKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newKeyFixture(t, KeySourceConfig{RefreshInterval: 10 * time.Minute})
		require.NoError(t, f.keys.Refresh(t.Context()))
		old := f.stub.SigningKey().ID
		ctx, stop := context.WithCancel(t.Context())
		defer stop()
		go f.keys.Run(ctx)

		rotated, err := f.stub.RotateKey(true)
		require.NoError(t, err)
		assert.Contains(t, string(f.keys.JWKS()), old, "before the refresh the old key still serves")

		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait()
		assert.Equal(t, []string{"startup/ok", "scheduled/ok"}, f.fetch.all())
		assert.NotContains(t, string(f.keys.JWKS()), old, "the removed key is gone after the scheduled refresh")
		assert.Contains(t, string(f.keys.JWKS()), rotated.ID)
		before := f.stub.KeyRequests()
		pk, err := f.keys.Key(t.Context(), rotated.ID)
		assert.NoError(t, err)
		assert.NotNil(t, pk)
		assert.Equal(t, before, f.stub.KeyRequests(), "the new key is known without another fetch")
	})
}

// A rotation at Descope is told to OnChange once the new set is in place
// (so the exchange cache can drop what the old keys vouched for); a
// refresh that brings the same set, and the first load, are not changes.
func TestKeySourceTellsOfAChangedKeySet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newKeyFixture(t, KeySourceConfig{})
		var seen []string
		f.keys.OnChange(func() { seen = append(seen, string(f.keys.JWKS())) })
		require.NoError(t, f.keys.Refresh(t.Context()))
		require.NoError(t, f.keys.Refresh(t.Context()))
		assert.Empty(t, seen, "neither the first load nor the same set again is a change")

		old := f.stub.SigningKey().ID
		rotated, err := f.stub.RotateKey(true)
		require.NoError(t, err)
		require.NoError(t, f.keys.Refresh(t.Context()))
		require.Len(t, seen, 1)
		assert.Contains(t, seen[0], rotated.ID, "the subscriber sees the new set")
		assert.NotContains(t, seen[0], old)
	})
}

// After a rotation, the first tokens signed by the new key often arrive
// together. They all wait for the one fetch the first of them starts, and
// none is refused.
func TestKeySourceRotationSeenByManyCostsOneFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newKeyFixture(t, KeySourceConfig{})
		require.NoError(t, f.keys.Refresh(t.Context()))
		rotated, err := f.stub.RotateKey(false)
		require.NoError(t, err)
		release := make(chan struct{})
		f.stub.SetKeysFault(func(_ http.ResponseWriter) bool {
			<-release
			return false
		})

		var wg sync.WaitGroup
		errs := make([]error, 30)
		for i := range errs {
			wg.Go(func() { _, errs[i] = f.keys.Key(context.Background(), rotated.ID) })
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		for i, err := range errs {
			assert.NoError(t, err, "caller %d", i)
		}
		assert.Equal(t, int64(2), f.stub.KeyRequests(), "the load, then one fetch for the new kid")
	})
}

// A token under a new kid that joins a fetch sent before the key was
// published does not give up with that fetch's stale answer: it starts its
// own (within the cooldown's allowance).
func TestKeySourceUnknownKIDOutlivesAStaleFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newKeyFixture(t, KeySourceConfig{})
		require.NoError(t, f.keys.Refresh(t.Context()))
		before := f.stub.JWKS()
		release := make(chan struct{})
		var calls sync.Mutex
		first := true
		f.stub.SetKeysFault(func(w http.ResponseWriter) bool {
			calls.Lock()
			stale := first
			first = false
			calls.Unlock()
			if !stale {
				return false
			}
			<-release // answered with the set as it was when the request left
			return descopestub.Serve(before)(w)
		})

		refreshed := make(chan error, 1)
		go func() { refreshed <- f.keys.Refresh(context.Background()) }()
		synctest.Wait()
		rotated, err := f.stub.RotateKey(false)
		require.NoError(t, err)
		var keyErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, keyErr = f.keys.Key(context.Background(), rotated.ID)
		}()
		synctest.Wait() // the new kid waits on the fetch already out
		close(release)
		<-done
		require.NoError(t, <-refreshed)

		assert.NoError(t, keyErr, "the new kid is found by a fetch of its own")
		assert.Equal(t, int64(3), f.stub.KeyRequests(), "the load, the stale fetch, one more")
		assert.Equal(t, []string{"startup/ok", "startup/ok", "unknown_kid/ok"}, f.fetch.all())
	})
}
