package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/descope"
	"github.com/dfbridge/dfbridge/firebase"
	"github.com/dfbridge/dfbridge/flow"
	"github.com/dfbridge/dfbridge/internal/smallfile"
)

// maxMappingBytes bounds the mapping document; real ones are a few KB.
const maxMappingBytes = 1 << 20

// parseMapping parses IDENTITY_MAPPING (inline JSON, or a file path) into
// c.mapping and checks what the mapping needs from the rest of the config.
func (c *Config) parseMapping() error {
	c.mapping = bridge.DefaultMapping()
	v := strings.TrimSpace(c.Mapping.IdentityMapping)
	c.mappingSource, c.mappingDigest = "default", ""
	if v == "" {
		return nil
	}
	data := []byte(v)
	c.mappingSource = "inline"
	if !strings.HasPrefix(v, "{") {
		c.mappingSource = "file " + bridge.Truncate(v, 120)
		b, err := smallfile.Read(v, maxMappingBytes)
		if err != nil {
			return fmt.Errorf("config: IDENTITY_MAPPING=%q cannot be read (%w); give the JSON itself or a readable file path", bridge.Truncate(v, 80), err)
		}
		data = b
	}
	m, err := bridge.ParseMapping(data)
	if err != nil {
		return fmt.Errorf("config: IDENTITY_MAPPING: %w", err)
	}
	sum := sha256.Sum256(data)
	c.mappingDigest = hex.EncodeToString(sum[:6])
	if mc := m.Migration(); mc != nil && mc.EmailFromDescope && c.Descope.ManagementKey == "" {
		return errors.New("config: IDENTITY_MAPPING: migration.emailFromDescope needs DESCOPE_MANAGEMENT_KEY; set it or turn emailFromDescope off")
	}
	c.mapping = m
	return nil
}

// newMigrator wires the migration step to Firebase (accounts by email) and,
// when asked, Descope's management API (emails sessions lack).
func newMigrator(mc bridge.MigrationConfig, fbc *firebase.Client, v *descope.Verifier) (*bridge.Migrator, error) {
	var users bridge.UserLoader
	if mc.EmailFromDescope {
		users = descope.NewUsers(v.SDK())
	}
	memos, err := flow.NewMigrationMemos(mc)
	if err != nil {
		return nil, fmt.Errorf("building migration: %w", err)
	}
	m, err := bridge.NewMigrator(mc, fbc.Directory(), users, memos)
	if err != nil {
		return nil, fmt.Errorf("building migration: %w", err)
	}
	return m, nil
}
