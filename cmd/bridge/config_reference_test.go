package main

import (
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/descope"
)

// configVar is one variable of the configuration, with its default.
type configVar struct {
	name  string
	field reflect.StructField
	def   reflect.Value
}

// configReference is every variable the parts of Config declare, with
// the defaults defaultConfig gives them.
func configReference() []configVar {
	c := defaultConfig()
	var out []configVar
	for _, part := range c.parts() {
		v := reflect.ValueOf(part).Elem()
		for i := range v.NumField() {
			if name := v.Type().Field(i).Tag.Get("envconfig"); name != "" {
				out = append(out, configVar{name: name, field: v.Type().Field(i), def: v.Field(i)})
			}
		}
	}
	return out
}

// Every exported field of Config is a part that is read and checked, and
// every exported field of a part names its variable: nothing is read
// under a name derived from a Go identifier, and no default hides in a tag.
func TestConfigPartsAreReadAndNameTheirVariables(t *testing.T) {
	t.Parallel()
	c := defaultConfig()
	parts := map[uintptr]bool{}
	for _, p := range c.parts() {
		parts[reflect.ValueOf(p).Pointer()] = true
	}
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		assert.True(t, parts[v.Field(i).Addr().Pointer()], "Config.%s is in parts()", f.Name)
		for j := range f.Type.NumField() {
			pf := f.Type.Field(j)
			if !pf.IsExported() {
				continue
			}
			assert.NotEmpty(t, pf.Tag.Get("envconfig"), "%s.%s names its variable", f.Name, pf.Name)
			assert.Empty(t, pf.Tag.Get("default"), "%s.%s: defaults live in the part's DefaultConfig", f.Name, pf.Name)
		}
	}
	seen := map[string]bool{}
	for _, cv := range configReference() {
		assert.False(t, seen[cv.name], "%s is declared once", cv.name)
		seen[cv.name] = true
	}
}

// The configuration reference's default column says what the code does:
// a variable with a default shows it, one without shows no value.
func TestConfigurationReferenceDefaultsAreTheCodes(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/configuration.md")
	require.NoError(t, err)
	row := regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` \\|[^|]*\\|[^|]*\\|([^|]*)\\|")
	cells := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		cells[m[1]] = strings.TrimSpace(m[2])
	}
	literal := regexp.MustCompile("`([^`]*)`")
	for _, cv := range configReference() {
		t.Run(cv.name, func(t *testing.T) {
			cell, ok := cells[cv.name]
			require.True(t, ok, "docs/configuration.md has a row for %s", cv.name)
			var doc string
			if m := literal.FindStringSubmatch(cell); m != nil && !regexp.MustCompile(`^[A-Z_]+$`).MatchString(m[1]) {
				doc = m[1] // a value, not the name of another variable
			}
			if cv.def.IsZero() {
				if doc != "" {
					assert.True(t, zeroLiteral(cv.def, doc), "%s has no default in code, but the docs say %q", cv.name, doc)
				}
				return
			}
			require.NotEmpty(t, doc, "%s defaults to %v; the docs show no value (%q)", cv.name, cv.def.Interface(), cell)
			assert.True(t, sameValue(cv.def, doc), "%s defaults to %v in code, %q in the docs", cv.name, cv.def.Interface(), doc)
		})
	}
}

// sameValue reports whether doc, as the variable would be written, is v.
func sameValue(v reflect.Value, doc string) bool {
	if d, ok := v.Interface().(time.Duration); ok {
		parsed, err := time.ParseDuration(doc)
		return err == nil && parsed == d
	}
	switch v.Kind() {
	case reflect.String:
		return v.String() == doc
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(doc, 10, 64)
		return err == nil && n == v.Int()
	case reflect.Float64:
		f, err := strconv.ParseFloat(doc, 64)
		return err == nil && f == v.Float()
	case reflect.Bool:
		b, err := strconv.ParseBool(doc)
		return err == nil && b == v.Bool()
	}
	return false
}

func zeroLiteral(v reflect.Value, doc string) bool {
	return sameValue(reflect.Zero(v.Type()), doc)
}

// The longest key fetch an exchange may wait (a descope setting's bound)
// leaves 5 s of the server's write timeout for the rest of the exchange.
func TestKeyFetchBoundFitsTheWriteTimeout(t *testing.T) {
	assert.Equal(t, writeTimeout-5*time.Second, descope.MaxKeysFetchTimeout)
}
