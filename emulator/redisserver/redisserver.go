// Package redisserver starts Debian's real redis-server for tests: a
// private instance on a free loopback port, with no persistence, stopped
// when the test ends. Nothing stands in for Redis.
package redisserver

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Server is one running redis-server.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	dir  string
}

// URL is the server's redis:// URL, with the password it requires.
func (s *Server) URL() string { return "redis://:" + Password + "@" + s.Addr + "/0" }

// Password is what every test server requires (AUTH), so the bridge's URL
// handling is exercised with credentials.
const Password = "test-redis-password"

// Start runs a redis-server for t, or skips t when the binary is missing
// (fails instead under DFBRIDGE_REQUIRE_REDIS=1, as the test command sets).
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("DFBRIDGE_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server is not installed but DFBRIDGE_REQUIRE_REDIS=1 (scripts/test.sh installs it)")
		}
		t.Skip("redis-server not installed; run via scripts/test.sh")
	}
	s, err := Run(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Run starts a redis-server on a free loopback port, working in dir; the
// caller stops it. The benchmark uses it too.
func Run(dir string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	if err := s.start(bin, port); err != nil {
		return nil, err
	}
	return s, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port), nil
}

func (s *Server) start(bin, port string) error {
	s.Addr = "127.0.0.1:" + port
	s.cmd = exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--requirepass", Password, "--dir", s.dir)
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				for sc.Scan() {
				}
				return
			}
		}
	}()
	select {
	case <-ready:
		return nil
	case <-time.After(10 * time.Second):
		s.Stop()
		return fmt.Errorf("redis-server on %s not ready within 10s", s.Addr)
	}
}

// Stop ends the server (as a crash would: no save).
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart(ctx context.Context) error {
	s.Stop()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	return s.start(bin, port)
}
