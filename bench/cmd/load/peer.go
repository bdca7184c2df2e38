package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// peerDir holds the Node peer: peer.js and its pinned package.json and
// lockfile.
const peerDir = "bench/peer"

// installPeer installs the Node peer's pinned dependencies with npm ci,
// unless the installed tree already matches the lockfile.
func installPeer(ctx context.Context) error {
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("node is not installed (the peer needs Node 20 or later)")
	}
	lock, err := os.Stat(filepath.Join(peerDir, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("run the load command from the repository root: %w", err)
	}
	if installed, err := os.Stat(filepath.Join(peerDir, "node_modules", ".package-lock.json")); err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return nil
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = peerDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("installing the Node peer (npm ci in %s): %w\n%s", peerDir, err, b)
	}
	return nil
}

// nodeVersion is the version of node on PATH.
func nodeVersion() string {
	b, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// startPeer starts the Node peer with workers cluster workers and waits
// until it answers /readyz. Its process tree (the primary and its workers)
// is measured as one.
func startPeer(ctx context.Context, dir string, workers int, env []string) (*bridge, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "peer.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "node", filepath.Join(peerDir, "peer.js"))
	cmd.Env = append(env, "PORT="+strconv.Itoa(port), "PEER_WORKERS="+strconv.Itoa(workers), "NODE_ENV=production")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting the Node peer: %w", err)
	}
	p := &bridge{cmd: cmd, url: fmt.Sprintf("127.0.0.1:%d", port), exited: make(chan struct{}), tree: true}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	if !p.waitReady(30 * time.Second) {
		p.stop()
		log, _ := os.ReadFile(filepath.Join(dir, "peer.log"))
		return nil, fmt.Errorf("the Node peer did not become ready within 30s:\n%s", log)
	}
	return p, nil
}

// pids is the process and, for a process tree, its children.
func (b *bridge) pids() []int {
	pid := b.cmd.Process.Pid
	out := []int{pid}
	if !b.tree {
		return out
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return out
	}
	for _, f := range strings.Fields(string(raw)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}
