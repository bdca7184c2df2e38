package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/iamstub"
	"github.com/dfbridge/dfbridge/metrics"
)

const specPath = "../../api/openapi.yaml"

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(loader.Context), "api/openapi.yaml is not a valid OpenAPI 3 document")
	return doc
}

// Every route the service can serve is in the spec, and every path in the
// spec is served. The webhook paths are held to this once the service has
// any webhook route.
func TestOpenAPISpecListsEveryRoute(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	r := router(routeDeps{log: slog.New(slog.DiscardHandler), metrics: metrics.New(), serveMetrics: true,
		externalToken: http.NotFoundHandler(), audit: http.NotFoundHandler()})

	served := map[string]bool{}
	require.NoError(t, r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tmpl, err := route.GetPathTemplate()
		require.NoError(t, err)
		methods, err := route.GetMethods()
		require.NoError(t, err, "route %s must name its methods", tmpl)
		for _, m := range methods {
			served[m+" "+tmpl] = true
			t.Run(m+" "+tmpl+" is in the spec", func(t *testing.T) {
				item := doc.Paths.Find(tmpl)
				require.NotNil(t, item, "path missing from api/openapi.yaml")
				assert.NotNil(t, item.GetOperation(m), "method missing from api/openapi.yaml")
			})
		}
		return nil
	}))
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			t.Run(method+" "+path+" is served", func(t *testing.T) {
				assert.True(t, served[method+" "+path], "api/openapi.yaml lists a route the service does not serve")
			})
		}
	}
}

// specCase is one real request to the running service.
type specCase struct {
	name   string
	method string
	path   string
	header map[string]string
	body   []byte
	status int
	// validRequest marks requests the spec must accept too; refusals are
	// deliberately bad requests, so only their responses are checked.
	validRequest bool
}

// specChecker validates real exchanges against the spec.
type specChecker struct {
	doc    *openapi3.T
	router routers.Router
}

func newSpecChecker(t *testing.T, baseURL string) *specChecker {
	t.Helper()
	doc := loadSpec(t)
	doc.Servers = openapi3.Servers{{URL: baseURL}}
	r, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &specChecker{doc: doc, router: r}
}

// check sends c to the service and validates the response (and, for valid
// requests, the request) against the spec. A request no operation matches
// (a wrong method) must still answer in the spec's error shape.
func (sc *specChecker) check(t *testing.T, s *stack, c specCase) apiResponse {
	t.Helper()
	resp := s.do(t, c.method, c.path, c.header, c.body)
	require.Equal(t, c.status, resp.Status, "body: %s", resp.Body)

	req, err := http.NewRequest(c.method, s.url+c.path, bytes.NewReader(c.body))
	require.NoError(t, err)
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	route, params, err := sc.router.FindRoute(req)
	if err != nil {
		require.False(t, c.validRequest, "no spec operation for a valid request: %v", err)
		var body any
		require.NoError(t, json.Unmarshal(resp.Body, &body))
		require.NoError(t, sc.doc.Components.Schemas["Error"].Value.VisitJSON(body),
			"an unrouted request must still answer in the error shape")
		return resp
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if c.validRequest {
		require.NoError(t, openapi3filter.ValidateRequest(ctx, in), "the spec refuses a request the service accepts")
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.Status,
		Header:                 resp.Header,
		Options:                opts,
	}
	out.SetBodyBytes(resp.Body)
	assert.NoError(t, openapi3filter.ValidateResponse(ctx, out), "response does not match api/openapi.yaml: %s", resp.Body)
	return resp
}

// Real responses of the running service, success and refusal alike, match
// api/openapi.yaml.
func TestRealResponsesMatchTheOpenAPISpec(t *testing.T) {
	t.Parallel()
	s := keyStack(t, map[string]string{"METRICS_ON_MAIN_PORT": "true"})
	sc := newSpecChecker(t, s.url)
	tok := s.session(t, descopestub.Session{UserID: "Uspec", Roles: []string{"viewer"}})
	expired := s.session(t, descopestub.Session{UserID: "Uspec", Extra: map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}})
	jsonCT := map[string]string{"Content-Type": "application/json"}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	cases := []specCase{
		{name: "an exchange by bearer header succeeds", method: "POST", path: "/exchange", header: bearer(tok), status: 200, validRequest: true},
		{name: "an exchange by JSON body succeeds", method: "POST", path: "/exchange", header: jsonCT, body: []byte(`{"sessionJwt":"` + tok + `"}`), status: 200, validRequest: true},
		{name: "an exchange without a token is unauthorized", method: "POST", path: "/exchange", status: 401},
		{name: "an expired session is unauthorized", method: "POST", path: "/exchange", header: bearer(expired), status: 401, validRequest: true},
		{name: "a malformed token is unauthorized", method: "POST", path: "/exchange", header: bearer("not.a.jwt"), status: 401, validRequest: true},
		{name: "a body with unknown fields is a bad request", method: "POST", path: "/exchange", header: jsonCT, body: []byte(`{"sessionJwt":"x","admin":true}`), status: 400},
		{name: "a body that is not JSON is unsupported", method: "POST", path: "/exchange", header: map[string]string{"Content-Type": "text/plain"}, body: []byte("sessionJwt=x"), status: 415},
		{name: "an oversized body is too large", method: "POST", path: "/exchange", header: jsonCT, body: []byte(`{"sessionJwt":"` + strings.Repeat("a", 40<<10) + `"}`), status: 413},
		{name: "a wrong method is not allowed", method: "GET", path: "/exchange", status: 405},
		{name: "liveness answers", method: "GET", path: "/healthz", status: 200, validRequest: true},
		{name: "readiness answers ready", method: "GET", path: "/readyz", status: 200, validRequest: true},
		{name: "metrics answer when enabled on the main port", method: "GET", path: "/metrics", status: 200, validRequest: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { sc.check(t, s, c) })
	}
}

// The 5xx answers match the spec too: a keyless signer without its IAM grant
// leaves the service not ready and exchanges failing with signing_failed.
func TestFailureResponsesMatchTheOpenAPISpec(t *testing.T) {
	_, withIAM := googleStandIn(t, iamstub.Options{Email: keylessAccount, ProjectID: "demo-dfbridge", Denied: true})
	s := startStackWith(t, "", nil, nil, stackOptions{config: withIAM, unready: true})
	sc := newSpecChecker(t, s.url)
	tok := s.session(t, descopestub.Session{UserID: "Uspec"})

	sc.check(t, s, specCase{name: "not ready", method: "GET", path: "/readyz", status: 503, validRequest: true})
	sc.check(t, s, specCase{name: "signing fails", method: "POST", path: "/exchange",
		header: map[string]string{"Authorization": "Bearer " + tok}, status: 502, validRequest: true})
	sc.check(t, s, specCase{name: "metrics are off the public port", method: "GET", path: "/metrics", status: 404, validRequest: true})
}

// The webhook routes refuse unsigned and oversized deliveries in the spec's
// shapes.
func TestWebhookRefusalsMatchTheOpenAPISpec(t *testing.T) {
	t.Parallel()
	s := keyStack(t, map[string]string{
		"EXTERNAL_TOKEN_HMAC_SECRETS": "connector-secret-0123456789",
		"AUDIT_WEBHOOK_HMAC_SECRETS":  "audit-secret-0123456789",
	})
	sc := newSpecChecker(t, s.url)
	jsonCT := map[string]string{"Content-Type": "application/json"}
	for _, path := range []string{"/webhook/external-token", "/webhook/audit"} {
		sc.check(t, s, specCase{name: "unsigned", method: "POST", path: path, header: jsonCT, body: []byte(`{"userId":"U1"}`), status: 401})
		// A call with no credential is refused unread; one that carries a
		// (forged) signature has its size checked before it is read.
		signed := map[string]string{"Content-Type": "application/json",
			"X-Descope-Webhook-S256": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="}
		sc.check(t, s, specCase{name: "oversized", method: "POST", path: path, header: signed,
			body: []byte(`{"pad":"` + strings.Repeat("a", 2<<20) + `"}`), status: 413})
	}
}
