package authemu

import (
	"context"
	"os"
	"testing"
	"time"
)

// ProjectID is the demo project the local stack and the tests use. A
// "demo-" project never reaches a real Firebase project.
const ProjectID = "demo-dfbridge"

// ForTest returns a client for the emulator named by
// FIREBASE_AUTH_EMULATOR_HOST. When it is unset the test is skipped, unless
// DFBRIDGE_REQUIRE_EMULATOR=1 (set by the test script and CI), where a
// missing or silent emulator fails the test.
func ForTest(t testing.TB) *Client {
	t.Helper()
	return forTest(t, "FIREBASE_AUTH_EMULATOR_HOST", "the Auth emulator")
}

// startEnv is the test environment as the process started with it: tests
// that build services in parallel set variables for a moment (the bridge
// reads FIREBASE_AUTH_EMULATOR_HOST), and must not change where the
// emulators are.
var startEnv = map[string]string{
	"FIREBASE_AUTH_EMULATOR_HOST": os.Getenv("FIREBASE_AUTH_EMULATOR_HOST"),
	"DFBRIDGE_ISOLATED_EMULATOR":  os.Getenv("DFBRIDGE_ISOLATED_EMULATOR"),
	"DFBRIDGE_REQUIRE_EMULATOR":   os.Getenv("DFBRIDGE_REQUIRE_EMULATOR"),
}

// forTest is a client for the emulator at the host in the variable named
// env, skipping t when it is unset (failing under DFBRIDGE_REQUIRE_EMULATOR=1)
// and failing t when the emulator does not answer.
func forTest(t testing.TB, env, what string) *Client {
	t.Helper()
	host := startEnv[env]
	if host == "" {
		if startEnv["DFBRIDGE_REQUIRE_EMULATOR"] == "1" {
			t.Fatalf("%s is not set but DFBRIDGE_REQUIRE_EMULATOR=1", env)
		}
		t.Skipf("%s not set; run via scripts/test.sh to use %s", env, what)
	}
	c := New(host, ProjectID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("auth emulator at %s does not answer: %v", host, err)
	}
	return c
}

// WaitPastIssuedSecond waits until the wall clock is past the second an ID
// token was issued in. Firebase keeps revocation times in whole seconds, so
// a token issued in the same second as a revocation still passes the check;
// a test of revocation must revoke in a later second.
func WaitPastIssuedSecond(t testing.TB, idToken string) {
	t.Helper()
	claims, err := Claims(idToken)
	if err != nil {
		t.Fatalf("reading ID token: %v", err)
	}
	iat, _ := claims["iat"].(float64)
	for time.Now().Unix() <= int64(iat) {
		time.Sleep(50 * time.Millisecond)
	}
}

// ForIsolatedTest is ForTest for a test that walks or changes every account
// of the project (reconcile): it uses the Auth emulator named by
// DFBRIDGE_ISOLATED_EMULATOR, which no other test shares.
func ForIsolatedTest(t testing.TB) *Client {
	t.Helper()
	return forTest(t, "DFBRIDGE_ISOLATED_EMULATOR", "a second Auth emulator")
}
