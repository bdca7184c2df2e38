// Package bench measures the exchange path: verifying a Descope session,
// mapping it, minting a Firebase custom token, and the whole HTTP handler.
// The Go benchmarks beside this file measure each step in-process; the load
// command (bench/cmd/load) starts the bridge as its own process and drives
// it over loopback. Both sign with a generated service-account key, the
// production key-file path, and verify against the local Descope stand-in.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/descope"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
	"github.com/dfbridge/dfbridge/firebase"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/metrics"
)

// ProjectID is the Descope project of the stand-in the benchmarks use.
const ProjectID = "Pbenchdfbridge"

// FirebaseProjectID is the Firebase project the generated key belongs to.
const FirebaseProjectID = "demo-dfbridge"

// TypicalSession is the shape of a session the benchmarks exchange: a user
// with a couple of roles and permissions in one tenant, as a B2B app has.
func TypicalSession(userID string) descopestub.Session {
	return descopestub.Session{
		UserID:        userID,
		Roles:         []string{"admin", "editor"},
		Permissions:   []string{"docs.read", "docs.write"},
		Tenants:       map[string]descopestub.TenantRoles{"T2acme": {Roles: []string{"owner"}, Permissions: []string{"billing.read"}}},
		CurrentTenant: "T2acme",
		AMR:           []string{"passkey"},
	}
}

// StandIn is a running Descope stand-in with a generated Firebase key.
type StandIn struct {
	Stub   *descopestub.Stub
	Server *httptest.Server
	SA     *serviceaccount.Key
}

// NewStandIn starts the Descope stand-in on loopback and generates an
// RSA-2048 service-account key.
func NewStandIn() (*StandIn, error) {
	stub, err := descopestub.New(descopestub.Options{ProjectID: ProjectID})
	if err != nil {
		return nil, fmt.Errorf("starting descope stand-in: %w", err)
	}
	sa, err := serviceaccount.Generate(FirebaseProjectID)
	if err != nil {
		return nil, fmt.Errorf("generating service account: %w", err)
	}
	return &StandIn{Stub: stub, Server: httptest.NewServer(stub.Handler()), SA: sa}, nil
}

// Close stops the stand-in.
func (s *StandIn) Close() { s.Server.Close() }

// Sessions mints n sessions of n distinct users.
func (s *StandIn) Sessions(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		tok, err := s.Stub.MintSession(TypicalSession(fmt.Sprintf("U2bench%06d", i)))
		if err != nil {
			return nil, fmt.Errorf("minting session: %w", err)
		}
		out[i] = tok
	}
	return out, nil
}

// Pipeline is the exchange assembled in-process as cmd/bridge assembles it.
type Pipeline struct {
	Keys      *descope.KeySource
	Verifier  *descope.Verifier
	Mapping   *bridge.Mapping
	Minter    bridge.Minter
	Exchanger *bridge.Exchange
	Metrics   *metrics.Metrics
}

// NewPipeline builds the verifier, mapping and minter against s, with keys
// loaded.
func NewPipeline(ctx context.Context, s *StandIn) (*Pipeline, error) {
	m := metrics.New()
	keys := descope.NewKeySource(descope.KeySourceConfig{BaseURL: s.Server.URL, ProjectID: ProjectID, Observe: m.KeyFetch})
	if err := keys.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("loading descope keys: %w", err)
	}
	v, err := descope.NewVerifier(descope.VerifierConfig{ProjectID: ProjectID, BaseURL: s.Server.URL, Keys: keys})
	if err != nil {
		return nil, fmt.Errorf("building verifier: %w", err)
	}
	fbc, err := firebase.New(ctx, firebase.ClientConfig{ProjectID: FirebaseProjectID, CredentialsJSON: s.SA.JSON})
	if err != nil {
		return nil, fmt.Errorf("building firebase client: %w", err)
	}
	p := &Pipeline{Keys: keys, Verifier: v, Mapping: bridge.DefaultMapping(), Minter: fbc.Minter(), Metrics: m}
	p.Exchanger = &bridge.Exchange{Verifier: v, Mapping: p.Mapping, Minter: p.Minter}
	return p, nil
}

// Handler is POST /exchange with the service's logger writing JSON lines to
// w, over x (the exchanger, or a decorator of it).
func (p *Pipeline) Handler(w io.Writer, x bridge.Exchanger) http.Handler {
	return httpapi.HandleExchange(httpapi.NewLogger(w, slog.LevelInfo), p.Metrics, x)
}
