// Package envnames knows the names of the variables a configuration reads
// (envconfig tags), so a setting the service would silently ignore, a typo
// such as CORS_ALLOWED_ORIGIN, can be refused with the name it was meant
// to be. Edit distance comes from github.com/agnivade/levenshtein.
package envnames

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
)

// Of returns the envconfig names of parts (pointers to structs, nested
// structs included) and of extra.
func Of(parts []any, extra ...string) map[string]bool {
	known := map[string]bool{}
	for _, v := range extra {
		known[v] = true
	}
	for _, part := range parts {
		collect(reflect.TypeOf(part).Elem(), known)
	}
	return known
}

func collect(t reflect.Type, into map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name := f.Tag.Get("envconfig"); name != "" {
			into[name] = true
		} else if f.Type.Kind() == reflect.Struct && f.IsExported() {
			collect(f.Type, into)
		}
	}
}

// Nearest is the name in known closest to name, and its edit distance
// (ties go to the name first in order).
func Nearest(name string, known map[string]bool) (string, int) {
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestD := "", -1
	for _, k := range names {
		if d := levenshtein.ComputeDistance(name, k); bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	return best, bestD
}

// NearMisses are environ's variables that are not in known but are within
// two edits of one, each as a sentence naming the one it was meant to be.
func NearMisses(environ []string, known map[string]bool) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if known[name] {
			continue
		}
		if best, d := Nearest(name, known); d > 0 && d <= 2 {
			out = append(out, fmt.Sprintf("%s is not a bridge variable; did you mean %s?", name, best))
		}
	}
	sort.Strings(out)
	return out
}
