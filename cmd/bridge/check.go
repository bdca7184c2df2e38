package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dfbridge/dfbridge/internal/envnames"
	"github.com/dfbridge/dfbridge/redisstore"
)

// runtimeVars are variables the process honours beside the configuration's
// own: Go's runtime settings the deployment sets.
var runtimeVars = []string{"GOMEMLIMIT", "GOMAXPROCS", "GOGC", "GODEBUG"}

// knownVars is every variable the service reads: the envconfig names of
// the configuration's parts, and runtimeVars.
func knownVars() map[string]bool {
	c := defaultConfig()
	return envnames.Of(c.parts(), runtimeVars...)
}

// nearMisses are the environment's variables one or two edits away from
// the service's: typos that would otherwise be silently ignored.
func nearMisses(environ []string) []string { return envnames.NearMisses(environ, knownVars()) }

// runCheck is `bridge check [--keys K1,K2,...] [--also K3,...]`: the
// configuration check a deployment runs before it changes anything. It
// loads the configuration from the environment as start-up does (every
// part's Validate, the mapping, production guards), parses REDIS_URL and
// the CA file as the Redis client would, and, given --keys (the bridge
// keys of a settings file), refuses any that is not a bridge variable,
// naming the nearest one among them and --also (the deployment's own
// keys). One line on failure, exit 1.
func runCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keys := fs.String("keys", "", "comma-separated variable names to check are the bridge's")
	also := fs.String("also", "", "comma-separated names that are valid elsewhere (a deployment's own keys), offered as suggestions")
	keysOnly := fs.Bool("keys-only", false, "check only that --keys are bridge variables")
	if err := fs.Parse(args); err != nil {
		return err
	}
	known := knownVars()
	suggest := map[string]bool{}
	for k := range known {
		suggest[k] = true
	}
	for _, k := range splitList(*also) {
		suggest[k] = true
	}
	for _, k := range splitList(*keys) {
		if !known[k] {
			best, _ := envnames.Nearest(k, suggest)
			return fmt.Errorf("%s is neither a deployment key nor a bridge variable; the nearest valid name is %s", k, best)
		}
	}
	if *keysOnly {
		return nil
	}
	if misses := nearMisses(os.Environ()); len(misses) > 0 {
		return errors.New(misses[0])
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if cfg.Redis.URL != "" {
		rdb, err := redisstore.Open(cfg.Redis.URL, cfg.Redis.CAFile)
		if err != nil {
			return err
		}
		_ = rdb.Close()
	}
	fmt.Fprintln(stdout, "configuration ok")
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
