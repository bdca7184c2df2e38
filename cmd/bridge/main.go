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
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-h", "--help", "help":
			fmt.Fprint(os.Stdout, usage)
			return
		case "doctor", "reconcile", "check":
		default:
			fmt.Fprintf(os.Stderr, "bridge: unknown command %q\n\n%s", os.Args[1], usage)
			os.Exit(2)
		}
	}
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

// usage is what `bridge --help` prints.
const usage = `bridge: Descope sessions in, Firebase custom tokens out.

Usage:
  bridge                 serve POST /exchange (and the webhooks) on PORT
  bridge doctor [--json] [--env FILE]
                         check every dependency for real with this environment
                         (FILE: KEY=value lines, e.g. the local stack's bin/bridge-8080.env)
  bridge reconcile [--dry-run] ...
                         repair every Firebase account from Descope once (--help for flags)
  bridge check [--keys K,...]
                         check the configuration as start-up would, changing nothing
  bridge help            this text

Configuration is the environment: docs/configuration.md lists every variable.
`

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
