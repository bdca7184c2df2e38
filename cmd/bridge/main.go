// Command bridge serves the Descope → Firebase token exchange. It is the
// composition root: it reads config, builds the adapters and routes, and runs
// the server until SIGINT or SIGTERM. `bridge reconcile` runs the repair
// path instead (see reconcile.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "doctor" {
		if err := runDoctor(ctx, os.Args[2:], os.Stdout, os.Stderr); errors.Is(err, errDoctorFailed) {
			os.Exit(1)
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "bridge doctor:", err)
			os.Exit(2)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "check" {
		if err := runCheck(os.Args[2:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "bridge check:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "reconcile" {
		if err := runReconcile(ctx, os.Args[2:], os.Stdout, os.Stderr); errors.Is(err, errReconcileErrors) {
			os.Exit(1)
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "bridge reconcile:", err)
			os.Exit(2)
		}
		return
	}
	if err := run(ctx, os.Stdout); errors.Is(err, errLoggedShutdown) {
		os.Exit(1)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		os.Exit(1)
	}
}

// run is main with its dependencies passed in, so tests can start the whole
// service in-process. Config comes from the environment (envconfig reads the
// process environment; tests use t.Setenv).
func run(ctx context.Context, stdout io.Writer) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	srv, err := newService(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	return srv.serve(ctx)
}
