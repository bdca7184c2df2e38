package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/dfbridge/dfbridge/redisstore"
)

// runtimeVars are variables the process honours beside the configuration's
// own: Go's runtime settings the deployment sets.
var runtimeVars = []string{"GOMEMLIMIT", "GOMAXPROCS", "GOGC", "GODEBUG"}

// knownVars is every variable the service reads: the envconfig names of
// the configuration's parts, and runtimeVars.
func knownVars() map[string]bool {
	known := map[string]bool{}
	for _, v := range runtimeVars {
		known[v] = true
	}
	c := defaultConfig()
	for _, part := range c.parts() {
		collectVars(reflect.TypeOf(part).Elem(), known)
	}
	return known
}

func collectVars(t reflect.Type, into map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name := f.Tag.Get("envconfig"); name != "" {
			into[name] = true
		} else if f.Type.Kind() == reflect.Struct && f.IsExported() {
			collectVars(f.Type, into)
		}
	}
}

// nearest is the known variable closest to name by edit distance, and
// that distance.
func nearest(name string, known map[string]bool) (string, int) {
	best, bestD := "", -1
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if d := editDistance(name, k); bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	return best, bestD
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// nearMisses are the environment's variables that are not the service's
// but are within two edits of one (CORS_ALLOWED_ORIGIN for
// CORS_ALLOWED_ORIGINS): typos that would otherwise be silently ignored.
func nearMisses(environ []string) []string {
	known := knownVars()
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if known[name] {
			continue
		}
		if best, d := nearest(name, known); d > 0 && d <= 2 {
			out = append(out, fmt.Sprintf("%s is not a bridge variable; did you mean %s?", name, best))
		}
	}
	sort.Strings(out)
	return out
}

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
			best, _ := nearest(k, suggest)
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
