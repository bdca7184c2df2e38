package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"firebase.google.com/go/v4/auth"
	sdk "github.com/descope/go-sdk/descope"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/redisserver"
	"github.com/dfbridge/dfbridge/firebase"
)

// process is a bridge running as its own OS process, so it can be killed
// the way an instance dies: SIGKILL, no shutdown.
type process struct {
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
}

// buildBridge builds ./cmd/bridge, or returns the binary
// DFBRIDGE_TEST_BRIDGE_BIN names (the test command sets it to run the
// process tests on the BoringCrypto static build too).
func buildBridge(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("DFBRIDGE_TEST_BRIDGE_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "bridge")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func startProcess(t *testing.T, bin string, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(bin)
	envMu.Lock() // not while a test's own variables are set (withEnv)
	cmd.Env = os.Environ()
	envMu.Unlock()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, logs: &syncBuffer{}}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.logs.Write([]byte(line + "\n"))
			if strings.Contains(line, `"message":"bridge listening"`) {
				var rec struct{ Addr string }
				_ = json.Unmarshal([]byte(line), &rec)
				addr <- rec.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-time.After(20 * time.Second):
		t.Fatalf("bridge process did not start: %s", p.logs.String())
	}
	return p
}

// outcomes reads the "lifecycle job done" lines of a log: user → outcomes.
func outcomes(log string, into map[string][]string) {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"message":"lifecycle job done"`) {
			continue
		}
		var rec struct {
			UserID  string `json:"user_id"`
			Outcome string `json:"outcome"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil {
			into[rec.UserID] = append(into[rec.UserID], rec.Outcome)
		}
	}
}

// Three instances share one Redis queue; one is killed with SIGKILL in the
// middle of a 5,000-user batch. The other two take over its unacknowledged
// jobs after the visibility timeout and finish the batch: every account
// converges, and no user is converged twice (a job redelivered after the
// kill finds its account already in step).
func TestKilledInstanceJobsAreFinishedByTheOthers(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the bridge and runs three processes")
	}
	emu := isolatedEmulator(t)
	clearEmulator(t, emu)
	srv := redisserver.Start(t)
	stub, err := descopestub.New(descopestub.Options{ProjectID: testProject, ManagementKey: "mgmt-secret"})
	require.NoError(t, err)
	ts := httptest.NewServer(stub.Handler())
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// 5,000 users whose Firebase accounts carry the old role (as an
	// earlier sync wrote it) and who now hold editor at Descope.
	const n = 5000
	stub.PutRole(sdk.Role{Name: "viewer", PermissionNames: []string{"docs.read"}})
	stub.PutRole(sdk.Role{Name: "editor", PermissionNames: []string{"docs.read", "docs.write"}})
	var fbc *firebase.Client
	withEnv(map[string]string{"FIREBASE_AUTH_EMULATOR_HOST": emu.Host}, func() {
		fbc, err = firebase.New(ctx, firebase.ClientConfig{ProjectID: "demo-dfbridge", EmulatorHost: emu.Host})
	})
	require.NoError(t, err)
	fb := fbc.Auth()
	ids := make([]string, n)
	var batch []*auth.UserToImport
	for i := range ids {
		ids[i] = fmt.Sprintf("Ukill%05d", i)
		stub.PutUser(sdk.UserResponse{UserID: ids[i], LoginIDs: []string{ids[i]}, RoleNames: []string{"editor"}, Status: "enabled"})
		batch = append(batch, (&auth.UserToImport{}).UID(ids[i]).CustomClaims(map[string]any{
			"roles": []any{"viewer"}, "permissions": []any{"docs.read"}, bridge.MarkerClaim: ids[i]}))
		if len(batch) == 1000 {
			res, err := fb.ImportUsers(ctx, batch)
			require.NoError(t, err)
			require.Zero(t, res.FailureCount)
			batch = nil
		}
	}

	bin := buildBridge(t)
	env := map[string]string{
		"PORT": "0", "LISTEN_HOST": "127.0.0.1", "LOG_LEVEL": "info",
		"DESCOPE_PROJECT_ID": testProject, "DESCOPE_BASE_URL": ts.URL, "DESCOPE_MANAGEMENT_KEY": "mgmt-secret",
		"FIREBASE_AUTH_EMULATOR_HOST": emu.Host, "FIREBASE_PROJECT_ID": "demo-dfbridge",
		"FIREBASE_SERVICE_ACCOUNT_JSON": "", "GOOGLE_APPLICATION_CREDENTIALS": "",
		"REDIS_URL": srv.URL(), "AUDIT_WEBHOOK_HMAC_SECRETS": auditSecret,
		"LIFECYCLE_VISIBILITY_TIMEOUT": "2s", "LIFECYCLE_DESCOPE_RPS": "0", "LIFECYCLE_FIREBASE_RPS": "0",
		"IDENTITY_MAPPING": "",
	}
	var procs []*process
	for range 3 {
		procs = append(procs, startProcess(t, bin, env))
	}

	body, err := stub.AuditDelivery(descopestub.AuditEvent{Action: "UsersModified", Data: map[string]any{"userIds": ids}})
	require.NoError(t, err)
	start := time.Now()
	resp, err := descopestub.Deliver(ctx, procs[0].url+"/webhook/audit", auditSecret, body, nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	answered := time.Since(start)

	// Kill the first instance once the batch is well under way.
	require.Eventually(t, func() bool {
		total := 0
		for _, p := range procs {
			total += strings.Count(p.logs.String(), `"message":"lifecycle job done"`)
		}
		return total >= n/5
	}, 2*time.Minute, 5*time.Millisecond)
	require.NoError(t, procs[0].cmd.Process.Kill())
	_ = procs[0].cmd.Wait()
	killedAt := strings.Count(procs[0].logs.String(), `"message":"lifecycle job done"`)

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: redisserver.Password})
	defer rdb.Close()
	require.Eventually(t, func() bool { return rdb.XLen(ctx, "dfb:q:jobs").Val() == 0 }, 3*time.Minute, 50*time.Millisecond,
		"the survivors finish the batch")
	took := time.Since(start)
	t.Logf("5,000 users: delivery answered in %v; all converged in %v (%.0f users/s over 3 instances, one killed after %d jobs)",
		answered, took, n/took.Seconds(), killedAt)

	// Every account converged.
	converged := 0
	it := fb.Users(ctx, "")
	for {
		u, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		require.NoError(t, err)
		if assert.Equal(t, []any{"editor"}, u.CustomClaims["roles"], u.UID) {
			converged++
		}
	}
	assert.Equal(t, n, converged)

	// No user was converged twice; the few whose first run the kill cut
	// short (at most one per worker) were converged by a survivor.
	seen := map[string][]string{}
	for _, p := range procs {
		outcomes(p.logs.String(), seen)
	}
	var twice []string
	changedNone := 0
	for _, id := range ids {
		changes := 0
		for _, o := range seen[id] {
			if o != string(bridge.OutcomeUnchanged) {
				changes++
			}
		}
		switch {
		case changes > 1:
			twice = append(twice, id)
		case changes == 0:
			changedNone++
		}
	}
	assert.Empty(t, twice, "users converged twice")
	assert.LessOrEqual(t, changedNone, 8, "only jobs in flight at the kill have no logged change")
	redelivered := 0
	for _, o := range seen {
		if len(o) > 1 {
			redelivered++
		}
	}
	t.Logf("jobs run more than once (redelivered after the kill): %d; users whose change the kill cut from the log: %d", redelivered, changedNone)
	claimed := strings.Count(procs[1].logs.String()+procs[2].logs.String(), "claimed from a consumer that stopped")
	assert.Positive(t, claimed, "a survivor claimed the dead instance's jobs")
}
