// Package descope is the first step of an exchange: it verifies a Descope
// session JWT and turns it into a bridge.Session. Signature checking goes
// through the Descope Go SDK; around it this package closes the SDK's gaps
// (header algorithm, crit, issuer, token kind, required exp, strict time
// claims) and owns the key-fetching policy (KeySource), since the SDK alone
// refetches its key set on every unknown kid and never forgets a key.
// It also adapts the SDK's management API for user look-ups.
package descope
