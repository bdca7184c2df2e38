// Package redisserver starts Debian's real redis-server for tests: a
// private instance on a free loopback port, with no persistence, stopped
// when the test ends. Nothing stands in for Redis.
package redisserver

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is one running redis-server.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	dir  string
	// CAFile, on a TLS server, is the PEM of the private CA that signed its
	// certificate (as Memorystore's own CA signs its instances').
	CAFile string
}

// URL is the server's redis:// URL (rediss:// with TLS), with the password
// it requires.
func (s *Server) URL() string {
	scheme := "redis"
	if s.CAFile != "" {
		scheme = "rediss"
	}
	return scheme + "://:" + Password + "@" + s.Addr + "/0"
}

// Password is what every test server requires (AUTH), so the bridge's URL
// handling is exercised with credentials.
const Password = "test-redis-password"

// Start runs a redis-server for t, or skips t when the binary is missing
// (fails instead under DFBRIDGE_REQUIRE_REDIS=1, as the test command sets).
func Start(t testing.TB) *Server {
	t.Helper()
	requireServer(t)
	s, err := Run(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// requireServer skips t when redis-server is missing, or fails it under
// DFBRIDGE_REQUIRE_REDIS=1, as the test command sets.
func requireServer(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("DFBRIDGE_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server is not installed but DFBRIDGE_REQUIRE_REDIS=1 (scripts/test.sh installs it)")
		}
		t.Skip("redis-server not installed; run via scripts/test.sh")
	}
}

// StartTLS is Start for a server that speaks only TLS, with a certificate
// for 127.0.0.1 signed by a CA of its own (Server.CAFile), which no system
// trust store holds.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	requireServer(t)
	dir := t.TempDir()
	ca, err := writeTLSFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := exec.LookPath("redis-server")
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{dir: dir, CAFile: ca}
	if err := s.start(bin, port, "--port", "0", "--tls-port", port, "--tls-cert-file", filepath.Join(dir, "server.pem"),
		"--tls-key-file", filepath.Join(dir, "server.key"), "--tls-ca-cert-file", ca, "--tls-auth-clients", "no"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// writeTLSFiles writes a CA (ca.pem) and a server certificate for
// 127.0.0.1 it signed (server.pem, server.key) into dir.
func writeTLSFiles(dir string) (caFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test redis CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", err
	}
	files := map[string]*pem.Block{
		"ca.pem":     {Type: "CERTIFICATE", Bytes: caDER},
		"server.pem": {Type: "CERTIFICATE", Bytes: der},
		"server.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	}
	for name, block := range files {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, "ca.pem"), nil
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

func (s *Server) start(bin, port string, listen ...string) error {
	s.Addr = "127.0.0.1:" + port
	if len(listen) == 0 {
		listen = []string{"--port", port}
	}
	s.cmd = exec.Command(bin, append(listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--requirepass", Password, "--dir", s.dir)...)
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
func (s *Server) Restart(_ context.Context) error {
	s.Stop()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	return s.start(bin, port)
}
