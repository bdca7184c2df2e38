// Package firestoreemu runs Google Cloud's Firestore emulator (gcloud's
// cloud-firestore-emulator, on Java) with a rules file, for tests of
// security rules against real ID tokens from the Auth emulator, and speaks
// its REST API: as the admin (Bearer owner, which bypasses rules) to seed
// documents, and as a signed-in user to read them under the rules.
package firestoreemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Emulator is a running Firestore emulator.
type Emulator struct {
	Host    string
	Project string
}

// Start runs the emulator with rules for t's duration. Without gcloud's
// emulator the test is skipped, unless DFBRIDGE_REQUIRE_EMULATOR=1 (the
// test command), where it fails.
func Start(t testing.TB, project, rules string) *Emulator {
	t.Helper()
	if _, err := exec.LookPath("gcloud"); err != nil {
		if os.Getenv("DFBRIDGE_REQUIRE_EMULATOR") == "1" {
			t.Fatal("gcloud (with its Firestore emulator and Java) is not installed; the test command requires it")
		}
		t.Skip("gcloud's Firestore emulator is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command("gcloud", "emulators", "firestore", "start", "--host-port="+host, "--rules="+rules, "--quiet")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // it starts a Java child: stop the group
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	ready := make(chan struct{})
	var log bytes.Buffer
	go func() {
		sc := bufio.NewScanner(out)
		closed := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !closed && strings.Contains(sc.Text(), "Dev App Server is now running") {
				close(ready)
				closed = true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(90 * time.Second):
		t.Fatalf("the Firestore emulator did not start within 90 s")
	}
	return &Emulator{Host: host, Project: project}
}

func (e *Emulator) doc(path string) string {
	return fmt.Sprintf("http://%s/v1/projects/%s/databases/(default)/documents/%s", e.Host, e.Project, path)
}

// Put writes a document with string fields as the admin (rules bypassed).
func (e *Emulator) Put(ctx context.Context, path string, fields map[string]string) error {
	f := map[string]any{}
	for k, v := range fields {
		f[k] = map[string]string{"stringValue": v}
	}
	b, err := json.Marshal(map[string]any{"fields": f})
	if err != nil {
		return err
	}
	status, body, err := e.call(ctx, http.MethodPatch, path, "owner", b)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("writing %s: %d %s", path, status, body)
	}
	return err
}

// Get reads a document with idToken ("" for no credential) and returns
// the HTTP status: 200 read, 403 refused by the rules, 404 no document.
func (e *Emulator) Get(ctx context.Context, path, idToken string) (int, error) {
	status, _, err := e.call(ctx, http.MethodGet, path, idToken, nil)
	return status, err
}

// Write writes a document as idToken's user, under the rules.
func (e *Emulator) Write(ctx context.Context, path, idToken string) (int, error) {
	status, _, err := e.call(ctx, http.MethodPatch, path, idToken, []byte(`{"fields":{"x":{"stringValue":"y"}}}`))
	return status, err
}

func (e *Emulator) call(ctx context.Context, method, path, bearer string, body []byte) (int, string, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.doc(path), rd)
	if err != nil {
		return 0, "", err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), nil
}
