package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// MigrationConfig says how to find a user's existing Firebase account.
type MigrationConfig struct {
	// UIDClaim names a session claim that carries the existing Firebase UID
	// (a Descope custom attribute set at import). It wins over email.
	UIDClaim string
	// ByEmail looks the user up in Firebase by verified email.
	ByEmail bool
	// EmailFromDescope loads the user from Descope's management API when
	// the session carries no verified email.
	EmailFromDescope bool
	// RequireVerifiedAccountEmail refuses to link a Firebase account whose
	// own email is unverified (pre-registered accounts; see the README).
	RequireVerifiedAccountEmail bool
	// CacheTTL and CacheSize bound the look-up cache.
	CacheTTL  time.Duration
	CacheSize int
}

// Bounds on migration look-up caching.
const (
	DefaultMigrationCacheTTL  = 5 * time.Minute
	MaxMigrationCacheTTL      = time.Hour
	DefaultMigrationCacheSize = 10000
	MaxMigrationCacheSize     = 1000000
)

// mappingDoc is the JSON form of a Mapping. Unknown fields are refused so a
// typo fails start-up instead of silently mapping differently.
type mappingDoc struct {
	UID       *uidDoc       `json:"uid"`
	Migration *migrationDoc `json:"migration"`
	Claims    *claimsDoc    `json:"claims"`
	Policy    *policyDoc    `json:"policy"`
	Tenants   *tenantsDoc   `json:"tenants"`
}

type uidDoc struct {
	From   UIDSource `json:"from"`
	Claim  string    `json:"claim"`
	Prefix string    `json:"prefix"`
}

type migrationDoc struct {
	Enabled                     bool     `json:"enabled"`
	UIDClaim                    string   `json:"uidClaim"`
	ByEmail                     *bool    `json:"byEmail"`
	EmailFromDescope            bool     `json:"emailFromDescope"`
	RequireVerifiedAccountEmail *bool    `json:"requireVerifiedAccountEmail"`
	CacheTTL                    duration `json:"cacheTtl"`
	CacheSize                   int      `json:"cacheSize"`
}

type claimsDoc struct {
	Include          *[]string         `json:"include"`
	Rename           map[string]string `json:"rename"`
	Namespace        string            `json:"namespace"`
	Static           map[string]any    `json:"static"`
	TenantProjection *projectionDoc    `json:"tenantProjection"`
	DropOrder        []string          `json:"dropOrder"`
}

type projectionDoc struct {
	Roles       string `json:"roles"`
	Permissions string `json:"permissions"`
}

type gateDoc struct {
	AnyOf []string `json:"anyOf"`
	AllOf []string `json:"allOf"`
	In    Scope    `json:"in"`
	// Connector is "apply" (the default) or "skip": whether the gate also
	// judges Descope's connector calls, which carry no amr and no dct.
	Connector string `json:"connector"`
}

type policyDoc struct {
	Roles         *gateDoc `json:"roles"`
	Permissions   *gateDoc `json:"permissions"`
	Tenants       *gateDoc `json:"tenants"`
	AuthMethods   *gateDoc `json:"authMethods"`
	MaxSessionAge duration `json:"maxSessionAge"`
}

type tenantsDoc struct {
	Map      map[string]string `json:"map"`
	Unmapped string            `json:"unmapped"`
}

// duration is a time.Duration written as a Go duration string ("10m").
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`a duration must be a string such as "10m"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"10m\"", Truncate(s, 32))
	}
	*d = duration(v)
	return nil
}

// ParseMapping builds a Mapping from its JSON form and checks everything
// that can be checked before a request arrives: strategies, reserved and
// colliding claim names, the drop order, gates, tenant IDs and the size of
// the static claims. Its error is one line naming the offending field.
func ParseMapping(data []byte) (*Mapping, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var doc mappingDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a valid mapping document: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not a valid mapping document: trailing data after the JSON object")
	}
	m := DefaultMapping()
	steps := []func(*Mapping, *mappingDoc) error{parseUID, parseMigration, parseClaims, parsePolicy, parseTenants}
	for _, step := range steps {
		if err := step(m, &doc); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// describeJSONError says where in the mapping document a decode failed and
// what was expected there, in the document's own terms (field paths and
// JSON kinds) rather than Go's struct and type names.
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		where := te.Field
		if where == "" {
			where = "the document"
		}
		return fmt.Sprintf("%s: expected %s, found %s", where, jsonKind(te.Type), jsonValueWord(te.Value))
	case errors.As(err, &se):
		return fmt.Sprintf("JSON syntax error at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	}
	msg := oneLine(err.Error())
	if rest, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + rest + "; see the mapping reference for the fields each section takes"
	}
	return strings.TrimPrefix(msg, "json: ")
}

// jsonKind names the JSON a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(duration(0)) {
		return `a duration string such as "10m"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a value"
}

// jsonValueWord turns encoding/json's description of the value it found
// ("string", "array", "number 1.5") into plain words.
func jsonValueWord(v string) string {
	switch {
	case v == "array":
		return "a list"
	case v == "object":
		return "an object"
	case v == "string":
		return "a string"
	case v == "bool":
		return "true or false"
	case strings.HasPrefix(v, "number"):
		return "a number"
	}
	return v
}

func parseUID(m *Mapping, doc *mappingDoc) error {
	u := doc.UID
	if u == nil {
		return nil
	}
	switch u.From {
	case "":
		u.From = UIDFromUserID
	case UIDFromUserID, UIDFromLoginID, UIDFromEmail, UIDFromClaim:
	default:
		return fmt.Errorf("uid.from: %q is not a strategy; use userId, loginId, email or claim", Truncate(string(u.From), 32))
	}
	if u.From == UIDFromClaim && u.Claim == "" {
		return errors.New(`uid.claim: required with uid.from "claim"; name the session claim that holds the UID`)
	}
	if u.From != UIDFromClaim && u.Claim != "" {
		return errors.New(`uid.claim: only used with uid.from "claim"; remove it or set uid.from`)
	}
	if len(u.Prefix) >= MaxUIDLength {
		return fmt.Errorf("uid.prefix: %d bytes leaves no room in Firebase's %d-byte UID", len(u.Prefix), MaxUIDLength)
	}
	m.uidFrom, m.uidClaim, m.uidPrefix = u.From, u.Claim, u.Prefix
	return nil
}

func parseMigration(m *Mapping, doc *mappingDoc) error {
	d := doc.Migration
	if d == nil {
		return nil
	}
	c := &MigrationConfig{
		UIDClaim:                    d.UIDClaim,
		ByEmail:                     d.ByEmail == nil || *d.ByEmail,
		EmailFromDescope:            d.EmailFromDescope,
		RequireVerifiedAccountEmail: d.RequireVerifiedAccountEmail == nil || *d.RequireVerifiedAccountEmail,
		CacheTTL:                    time.Duration(d.CacheTTL),
		CacheSize:                   d.CacheSize,
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultMigrationCacheTTL
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultMigrationCacheSize
	}
	switch {
	case !c.ByEmail && c.UIDClaim == "":
		return errors.New("migration: set uidClaim or byEmail, or the migration finds nothing")
	case c.EmailFromDescope && !c.ByEmail:
		return errors.New("migration.emailFromDescope: only used with byEmail")
	case c.CacheTTL < time.Second || c.CacheTTL > MaxMigrationCacheTTL:
		return fmt.Errorf("migration.cacheTtl: must be between 1s and %s", MaxMigrationCacheTTL)
	case c.CacheSize < 1 || c.CacheSize > MaxMigrationCacheSize:
		return fmt.Errorf("migration.cacheSize: must be between 1 and %d", MaxMigrationCacheSize)
	}
	if d.Enabled {
		m.migration = c
	}
	return nil
}

func parseClaims(m *Mapping, doc *mappingDoc) error {
	c := doc.Claims
	if c == nil {
		return nil
	}
	if err := parsePassRules(m, c); err != nil {
		return err
	}
	if c.Namespace != "" {
		m.namespace = c.Namespace
	}
	top := topNames{}
	if err := top.placePassed(m); err != nil {
		return err
	}
	for _, name := range sortedKeys(c.Static) {
		if err := top.claim(name, "claims.static"); err != nil {
			return err
		}
		if c.Static[name] == nil {
			return fmt.Errorf("claims.static: %q is null; remove it instead", Truncate(name, 64))
		}
	}
	m.static = c.Static
	if err := parseProjection(m, c.TenantProjection, top); err != nil {
		return err
	}
	if size, err := encodedSize(m.static); err != nil || size > MaxClaimsBytes {
		return fmt.Errorf("claims.static: encodes to more than Firebase's %d bytes on its own", MaxClaimsBytes)
	}
	return parseDropOrder(m, c.DropOrder, top)
}

// parsePassRules reads claims.include and claims.rename: which session
// claims pass into the token, and under what names.
func parsePassRules(m *Mapping, c *claimsDoc) error {
	if c.Include != nil {
		m.pass = nil
		seen := map[string]bool{}
		for _, from := range *c.Include {
			if from == "" {
				return errors.New("claims.include: a claim name is empty")
			}
			if seen[from] {
				return fmt.Errorf("claims.include: %q is listed twice", Truncate(from, 64))
			}
			seen[from] = true
			m.pass = append(m.pass, passRule{from: from, to: from})
		}
	}
	for _, from := range sortedKeys(c.Rename) {
		to := c.Rename[from]
		i := slices.IndexFunc(m.pass, func(r passRule) bool { return r.from == from })
		if i < 0 {
			return fmt.Errorf("claims.rename: %q is not in claims.include", Truncate(from, 64))
		}
		if to == "" {
			return fmt.Errorf("claims.rename: the new name for %q is empty", Truncate(from, 64))
		}
		m.pass[i].to = to
	}
	return nil
}

// topNames holds every top-level claim name and what put it there, to
// refuse reserved names and collisions with a message that says which.
type topNames map[string]string

func (top topNames) claim(name, what string) error {
	if name == "" {
		return fmt.Errorf("%s: the claim name is empty", what)
	}
	if IsReservedClaim(name) {
		return fmt.Errorf("%s: %q is reserved by Firebase; rename it (claims.rename) or nest it (claims.namespace)", what, name)
	}
	if prev, dup := top[name]; dup {
		return fmt.Errorf("%s: %q is also produced by %s", what, Truncate(name, 64), prev)
	}
	top[name] = what
	return nil
}

// placePassed claims the names of the passed claims: the namespace alone
// (the claims nest under it, and must not collide there), or each one.
func (top topNames) placePassed(m *Mapping) error {
	if m.namespace != "" {
		if err := top.claim(m.namespace, "claims.namespace"); err != nil {
			return err
		}
		inner := map[string]bool{}
		for _, r := range m.pass {
			if inner[r.to] {
				return fmt.Errorf("claims.rename: two claims are named %q", Truncate(r.to, 64))
			}
			inner[r.to] = true
		}
		return nil
	}
	for _, r := range m.pass {
		what := "claims.include"
		if r.to != r.from {
			what = "claims.rename"
		}
		if err := top.claim(r.to, what); err != nil {
			return err
		}
	}
	return nil
}

// parseProjection reads claims.tenantProjection.
func parseProjection(m *Mapping, p *projectionDoc, top topNames) error {
	if p == nil {
		return nil
	}
	if p.Roles == "" && p.Permissions == "" {
		return errors.New("claims.tenantProjection: name the roles and/or permissions claim")
	}
	if p.Roles != "" {
		if err := top.claim(p.Roles, "claims.tenantProjection.roles"); err != nil {
			return err
		}
	}
	if p.Permissions != "" {
		if err := top.claim(p.Permissions, "claims.tenantProjection.permissions"); err != nil {
			return err
		}
	}
	m.projRoles, m.projPerms = p.Roles, p.Permissions
	return nil
}

// parseDropOrder resolves each entry to one claim: a top-level name, the
// namespace itself, or "namespace.name" for a claim inside it.
func parseDropOrder(m *Mapping, order []string, top map[string]string) error {
	seen := map[string]bool{}
	for _, e := range order {
		if seen[e] {
			return fmt.Errorf("claims.dropOrder: %q is listed twice", Truncate(e, 64))
		}
		seen[e] = true
		var slots []claimSlot
		if _, ok := top[e]; ok {
			if e == m.namespace {
				slots = append(slots, claimSlot{wholeNS: true})
			} else {
				slots = append(slots, claimSlot{name: e})
			}
		}
		if m.namespace != "" {
			if rest, ok := strings.CutPrefix(e, m.namespace+"."); ok {
				for _, r := range m.pass {
					if r.to == rest {
						slots = append(slots, claimSlot{name: rest, inNS: true})
					}
				}
			}
		}
		switch len(slots) {
		case 0:
			return fmt.Errorf("claims.dropOrder: %q is no claim this mapping produces", Truncate(e, 64))
		case 1:
			m.drops = append(m.drops, slots[0])
		default:
			return fmt.Errorf("claims.dropOrder: %q is ambiguous between a top-level and a namespaced claim", Truncate(e, 64))
		}
	}
	return nil
}

func parsePolicy(m *Mapping, doc *mappingDoc) error {
	p := doc.Policy
	if p == nil {
		return nil
	}
	var err error
	if m.policy.Roles, err = parseGate("policy.roles", p.Roles, true); err != nil {
		return err
	}
	if m.policy.Permissions, err = parseGate("policy.permissions", p.Permissions, true); err != nil {
		return err
	}
	if m.policy.Tenants, err = parseGate("policy.tenants", p.Tenants, false); err != nil {
		return err
	}
	if m.policy.AuthMethods, err = parseGate("policy.authMethods", p.AuthMethods, false); err != nil {
		return err
	}
	if p.MaxSessionAge < 0 {
		return errors.New("policy.maxSessionAge: must be positive")
	}
	m.policy.MaxSessionAge = time.Duration(p.MaxSessionAge)
	return nil
}

func parseGate(path string, g *gateDoc, scoped bool) (*SetGate, error) {
	if g == nil {
		return nil, nil
	}
	if len(g.AnyOf) == 0 && len(g.AllOf) == 0 {
		return nil, fmt.Errorf("%s: set anyOf or allOf, or remove the gate", path)
	}
	for _, list := range [][]string{g.AnyOf, g.AllOf} {
		for _, v := range list {
			if v == "" {
				return nil, fmt.Errorf("%s: a name is empty", path)
			}
		}
	}
	switch {
	case !scoped && g.In != "":
		return nil, fmt.Errorf("%s.in: only roles and permissions have a scope", path)
	case g.In == "":
		g.In = ScopeProject
	case g.In != ScopeProject && g.In != ScopeTenant && g.In != ScopeEither:
		return nil, fmt.Errorf("%s.in: %q is not a scope; use project, tenant or either", path, Truncate(string(g.In), 32))
	}
	switch g.Connector {
	case "", "apply", "skip":
	default:
		return nil, fmt.Errorf("%s.connector: %q; use apply (the default) or skip", path, Truncate(g.Connector, 32))
	}
	return &SetGate{AnyOf: g.AnyOf, AllOf: g.AllOf, In: g.In, SkipOnConnector: g.Connector == "skip"}, nil
}

func parseTenants(m *Mapping, doc *mappingDoc) error {
	t := doc.Tenants
	if t == nil {
		return nil
	}
	if len(t.Map) == 0 {
		return errors.New("tenants.map: map at least one Descope tenant to a Firebase tenant ID")
	}
	for _, from := range sortedKeys(t.Map) {
		if from == "" {
			return errors.New("tenants.map: a Descope tenant ID is empty")
		}
		if !validFirebaseTenantID(t.Map[from]) {
			return fmt.Errorf("tenants.map: %q is not a Firebase tenant ID (letters, digits and hyphens)", Truncate(t.Map[from], 64))
		}
	}
	switch t.Unmapped {
	case "", "project":
	case "refuse":
		m.refuseUnmapped = true
	default:
		return fmt.Errorf("tenants.unmapped: %q; use project or refuse", Truncate(t.Unmapped, 32))
	}
	m.tenantMap = t.Map
	return nil
}

// validFirebaseTenantID accepts what Identity Platform generates
// ("acme-x1y2z") and no character that could change a request path.
func validFirebaseTenantID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
