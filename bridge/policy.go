package bridge

import (
	"slices"
	"time"
)

// Scope says where a role or permission gate looks.
type Scope string

// Scopes: Descope grants roles and permissions to the project-level user
// and per tenant; a gate may accept either.
const (
	ScopeProject Scope = "project"
	ScopeTenant  Scope = "tenant"
	ScopeEither  Scope = "either"
)

// SetGate requires any and/or all of a set of names. An empty AnyOf or
// AllOf is no requirement.
type SetGate struct {
	AnyOf []string
	AllOf []string
	// In is where roles and permissions are looked for; default project.
	In Scope
	// SkipOnConnector leaves sessions built from Descope's connector calls
	// unjudged by this gate (mapping: "connector": "skip").
	SkipOnConnector bool
}

// applies reports whether g judges s.
func (g *SetGate) applies(s *Session) bool {
	return g != nil && !(s.FromConnector && g.SkipOnConnector)
}

// ConnectorGaps names the gates that need what Descope's connector calls
// never carry (amr; a current tenant, dct, for tenant-scoped gates) and are
// not marked "connector": "skip". They refuse every connector call whose
// user holds no such data, failing closed; start-up warns about each.
func (m *Mapping) ConnectorGaps() []string {
	p := &m.policy
	var gaps []string
	if p.AuthMethods != nil && !p.AuthMethods.SkipOnConnector {
		gaps = append(gaps, "policy.authMethods (needs amr)")
	}
	for _, g := range []struct {
		name string
		gate *SetGate
	}{{"policy.roles", p.Roles}, {"policy.permissions", p.Permissions}} {
		if g.gate != nil && !g.gate.SkipOnConnector && g.gate.In != ScopeProject && g.gate.In != "" {
			gaps = append(gaps, g.name+" in "+string(g.gate.In)+" (needs dct unless the user has one tenant)")
		}
	}
	return gaps
}

// Policy is what a session must satisfy for an exchange to succeed. Every
// gate fails closed: a session that lacks the data a gate needs (no amr, no
// auth time) is refused, so a Session built from non-JWT data must fill in
// what the configured gates read.
type Policy struct {
	Roles       *SetGate
	Permissions *SetGate
	// Tenants requires membership in the listed Descope tenants.
	Tenants *SetGate
	// AuthMethods gates on amr, e.g. AnyOf ["mfa"].
	AuthMethods *SetGate
	// MaxSessionAge bounds the time since the user authenticated.
	MaxSessionAge time.Duration
}

// Check applies the mapping's policy gates to s at time now.
func (m *Mapping) Check(s *Session, now time.Time) error { return m.policy.Check(s, now) }

// Check returns nil when s passes every gate, else an *Error whose code
// names the first gate that refused.
func (p *Policy) Check(s *Session, now time.Time) error {
	cur := CurrentTenant(s)
	tenant := s.Tenants[cur]
	if p.Roles.applies(s) && !p.Roles.allows(scoped(p.Roles.In, s.Roles, tenant.Roles, cur != "")) {
		return Errorf(CodeRoleRequired, "roles do not meet policy.roles")
	}
	if p.Permissions.applies(s) && !p.Permissions.allows(scoped(p.Permissions.In, s.Permissions, tenant.Permissions, cur != "")) {
		return Errorf(CodePermissionRequired, "permissions do not meet policy.permissions")
	}
	if p.Tenants.applies(s) {
		ids := make([]string, 0, len(s.Tenants))
		for id := range s.Tenants {
			ids = append(ids, id)
		}
		if !p.Tenants.allows(ids) {
			return Errorf(CodeTenantRequired, "tenants do not meet policy.tenants")
		}
	}
	if p.AuthMethods.applies(s) && !p.AuthMethods.allows(s.AMR) {
		return Errorf(CodeAuthMethodRequired, "amr %v does not meet policy.authMethods", s.AMR)
	}
	if p.MaxSessionAge > 0 {
		if s.AuthTime.IsZero() {
			return Errorf(CodeSessionTooOld, "session has no authentication time")
		}
		if age := now.Sub(s.AuthTime); age > p.MaxSessionAge {
			return Errorf(CodeSessionTooOld, "authenticated %s ago, policy allows %s", age.Round(time.Second), p.MaxSessionAge)
		}
	}
	return nil
}

// scoped returns the names a role or permission gate sees.
func scoped(in Scope, project, tenant []string, hasTenant bool) []string {
	switch in {
	case ScopeTenant:
		if !hasTenant {
			return nil
		}
		return tenant
	case ScopeEither:
		if !hasTenant {
			return project
		}
		return append(slices.Clip(project), tenant...)
	}
	return project
}

func (g *SetGate) allows(have []string) bool {
	for _, want := range g.AllOf {
		if !slices.Contains(have, want) {
			return false
		}
	}
	if len(g.AnyOf) == 0 {
		return true
	}
	for _, want := range g.AnyOf {
		if slices.Contains(have, want) {
			return true
		}
	}
	return false
}
