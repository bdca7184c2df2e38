// Command descope-stub runs the local Descope stand-in (emulator/descopestub)
// so the bridge runs with no Descope account. Dev sessions are on: anyone
// who can reach it can mint a session, so it binds to loopback by default.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "descope-stub:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	addr := getenv("STUB_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8090"
	}
	project := getenv("DESCOPE_PROJECT_ID")
	if project == "" {
		project = "Plocaldfbridge"
	}
	var origins []string
	if o := getenv("STUB_DEV_ORIGINS"); o != "" {
		origins = strings.Split(o, ",")
	}
	stub, err := descopestub.New(descopestub.Options{
		ProjectID:         project,
		ManagementKey:     getenv("DESCOPE_MANAGEMENT_KEY"),
		DevSessions:       true,
		DevAllowedOrigins: origins,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := &http.Server{Handler: stub.Handler(), ReadHeaderTimeout: 5 * time.Second}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	log.Info("descope stand-in listening", "addr", ln.Addr().String(), "project", project,
		"keys", "/v2/keys/"+project, "dev_sessions", "POST /dev/session")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
