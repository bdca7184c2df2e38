package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/descope"
	"github.com/dfbridge/dfbridge/firebase"
)

// maxMappingBytes bounds the mapping document; real ones are a few KB.
const maxMappingBytes = 1 << 20

// loadMapping parses IDENTITY_MAPPING (inline JSON, or a file path) into
// c.mapping and checks what the mapping needs from the rest of the config.
func (c *Config) loadMapping() error {
	c.mapping = bridge.DefaultMapping()
	v := strings.TrimSpace(c.IdentityMapping)
	if v == "" {
		return nil
	}
	data := []byte(v)
	if !strings.HasPrefix(v, "{") {
		b, err := readSmallFile(v, maxMappingBytes)
		if err != nil {
			return fmt.Errorf("config: IDENTITY_MAPPING=%q cannot be read (%w); give the JSON itself or a readable file path", shorten(v, 80), err)
		}
		data = b
	}
	m, err := bridge.ParseMapping(data)
	if err != nil {
		return fmt.Errorf("config: IDENTITY_MAPPING: %w", err)
	}
	if mc := m.Migration(); mc != nil && mc.EmailFromDescope && c.DescopeManagementKey == "" {
		return errors.New("config: IDENTITY_MAPPING: migration.emailFromDescope needs DESCOPE_MANAGEMENT_KEY; set it or turn emailFromDescope off")
	}
	c.mapping = m
	return nil
}

func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the operator names this file (IDENTITY_MAPPING)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err // the path is already in the message
		}
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("over %d bytes", limit)
	}
	return b, nil
}

// newMigrator wires the migration step to Firebase (accounts by email) and,
// when asked, Descope's management API (emails sessions lack).
func newMigrator(mc bridge.MigrationConfig, fbc *firebase.Client, v *descope.Verifier) (*bridge.Migrator, error) {
	var users bridge.UserLoader
	if mc.EmailFromDescope {
		users = descope.NewUsers(v.SDK())
	}
	m, err := bridge.NewMigrator(mc, fbc.Directory(), users)
	if err != nil {
		return nil, fmt.Errorf("building migration: %w", err)
	}
	return m, nil
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
