package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/authemu"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
	"github.com/dfbridge/dfbridge/flow"
)

const testProject = "Ptestbridge"

// stack is a Descope stand-in plus a bridge started in-process through the
// same code path as main.
type stack struct {
	stub   *descopestub.Stub
	stubTS *httptest.Server
	url    string
	svc    *service
	logs   *syncBuffer

	// env is the environment the bridge was started with.
	env map[string]string

	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// envMu serialises what reads the process environment while building a
// bridge (envconfig, and the Admin SDK's FIREBASE_AUTH_EMULATOR_HOST),
// so that tests running in parallel each build theirs from their own.
var envMu sync.Mutex

// withEnv runs f with env set over the process environment, and puts the
// environment back after. Tests that run in parallel build through it.
func withEnv(env map[string]string, f func()) {
	envMu.Lock()
	defer envMu.Unlock()
	saved := map[string]*string{}
	for _, k := range append(mapKeys(env), "FIREBASE_AUTH_EMULATOR_HOST") {
		if v, ok := os.LookupEnv(k); ok {
			saved[k] = &v
		} else {
			saved[k] = nil
		}
	}
	defer func() {
		for k, v := range saved {
			if v == nil {
				_ = os.Unsetenv(k)
			} else {
				_ = os.Setenv(k, *v)
			}
		}
	}()
	for k, v := range env {
		_ = os.Setenv(k, v)
	}
	f()
}

func mapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// isolatedMu lets one test at a time use the isolated emulator: each
// walks or clears every account of the project.
var isolatedMu sync.Mutex

// isolatedEmulator is the isolated Auth emulator, held by t until it ends.
func isolatedEmulator(t *testing.T) *authemu.Client {
	t.Helper()
	isolatedMu.Lock()
	t.Cleanup(isolatedMu.Unlock)
	return authemu.ForIsolatedTest(t)
}

// syncBuffer collects the bridge's log lines; handlers write concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startStack starts a stand-in and a bridge. With emulatorHost set the bridge
// mints Auth emulator tokens; otherwise it signs with sa.
func startStack(t *testing.T, emulatorHost string, sa *serviceaccount.Key, env map[string]string) *stack {
	t.Helper()
	return startStackWith(t, emulatorHost, sa, env, stackOptions{})
}

// startStackNoWait is startStack without waiting for /readyz.
func startStackNoWait(t *testing.T, emulatorHost string, sa *serviceaccount.Key, env map[string]string) *stack {
	t.Helper()
	return startStackWith(t, emulatorHost, sa, env, stackOptions{unready: true})
}

// stackOptions adjust startStackWith.
type stackOptions struct {
	// config has a last say over the config, for what the environment
	// cannot carry (client options that reach a Google stand-in).
	config func(*Config)
	// unready returns without waiting for /readyz, for stacks meant to fail it.
	unready bool
	// stub prepares the stand-in before the bridge starts (faults from the
	// first request on).
	stub func(*descopestub.Stub)
	// descope, when set, is a stand-in already serving (at descopeURL),
	// shared by several bridges as one Descope project.
	descope    *descopestub.Stub
	descopeURL string
}

// startStackWith is startStack with options.
func startStackWith(t *testing.T, emulatorHost string, sa *serviceaccount.Key, env map[string]string, o stackOptions) *stack {
	t.Helper()
	stub, ts := o.descope, (*httptest.Server)(nil)
	if stub == nil {
		var err error
		stub, err = descopestub.New(descopestub.Options{ProjectID: testProject, ManagementKey: "mgmt-secret"})
		require.NoError(t, err)
		ts = httptest.NewServer(stub.Handler())
		t.Cleanup(ts.Close)
		o.descopeURL = ts.URL
	}
	if o.stub != nil {
		o.stub(stub)
	}

	base := map[string]string{
		"PORT":                           "0",
		"LISTEN_HOST":                    "127.0.0.1",
		"DESCOPE_PROJECT_ID":             testProject,
		"DESCOPE_BASE_URL":               o.descopeURL,
		"DESCOPE_MANAGEMENT_KEY":         "mgmt-secret",
		"FIREBASE_AUTH_EMULATOR_HOST":    emulatorHost,
		"FIREBASE_PROJECT_ID":            "demo-dfbridge",
		"FIREBASE_SERVICE_ACCOUNT_JSON":  "",
		"GOOGLE_APPLICATION_CREDENTIALS": "",
		"LOG_LEVEL":                      "debug",
		"SHUTDOWN_DRAIN":                 "0s",
	}
	if sa != nil {
		base["FIREBASE_SERVICE_ACCOUNT_JSON"] = string(sa.JSON)
	}
	for k, v := range env {
		base[k] = v
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	var svc *service
	var err error
	withEnv(base, func() {
		var cfg *Config
		if cfg, err = loadConfig(); err != nil {
			return
		}
		if o.config != nil {
			o.config(cfg)
		}
		svc, err = newService(ctx, cfg, logs)
	})
	if err != nil {
		cancel()
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.serve(ctx) }()
	s := &stack{stub: stub, stubTS: ts, svc: svc, logs: logs, cancel: cancel, done: done, env: base}
	t.Cleanup(func() { s.stop(t) })
	select {
	case <-svc.ready:
	case err := <-done:
		t.Fatalf("bridge exited at start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("bridge did not start")
	}
	s.url = "http://" + svc.addr
	if !o.unready {
		s.waitReady(t)
	}
	return s
}

// stop shuts the bridge down as SIGTERM would and waits for serve to return.
func (s *stack) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	if s.stopped {
		return
	}
	select {
	case err := <-s.done:
		s.stopped = true
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Error("bridge did not shut down within 15s")
	}
}

func (s *stack) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("bridge never became ready")
}

type apiResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r apiResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

func (r apiResponse) errorCode(t *testing.T) string {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	require.True(t, ok, "no error object in %s", r.Body)
	code, _ := e["code"].(string)
	return code
}

// do sends one request to the bridge.
func (s *stack) do(t *testing.T, method, path string, header map[string]string, body []byte) apiResponse {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	if body == nil {
		req.Body = http.NoBody
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (s *stack) exchangeBearer(t *testing.T, token string) apiResponse {
	return s.do(t, http.MethodPost, "/exchange", map[string]string{"Authorization": "Bearer " + token}, nil)
}

func (s *stack) exchangeBody(t *testing.T, token string) apiResponse {
	b, err := json.Marshal(map[string]string{"sessionJwt": token})
	require.NoError(t, err)
	return s.do(t, http.MethodPost, "/exchange", map[string]string{"Content-Type": "application/json"}, b)
}

func (s *stack) session(t *testing.T, sess descopestub.Session) string {
	t.Helper()
	tok, err := s.stub.MintSession(sess)
	require.NoError(t, err)
	return tok
}

// waitIdle waits until no job waits or runs.
func (l *lifecycle) waitIdle(ctx context.Context) error {
	if mq, ok := l.queue.(*flow.MemoryQueue); ok {
		return mq.WaitIdle(ctx)
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for l.queue.Depth() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
