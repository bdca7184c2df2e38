package main

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/flow"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/metrics"
)

// routeDeps is everything the routes close over.
type routeDeps struct {
	log       *slog.Logger
	metrics   *metrics.Metrics
	exchanger bridge.Exchanger
	traceProj string
	readiness []httpapi.ReadinessCheck
	// serveMetrics adds GET /metrics to these routes (METRICS_ON_MAIN_PORT).
	serveMetrics bool
	// corsOrigins may call the API from a browser.
	corsOrigins []string
	// clientLimit admits /exchange calls per client address;
	// trustedProxies says how that address is found.
	clientLimit    flow.Limiter
	trustedProxies int
	// externalToken and audit are the Descope webhook handlers; nil when
	// no secret is configured for them, and then the route does not exist.
	externalToken http.Handler
	audit         http.Handler
	// draining, once set, makes every answer close its connection.
	draining interface{ Load() bool }
}

// addRoutes is the one list of every route and middleware of the service.
func addRoutes(d routeDeps) http.Handler {
	r := router(d)
	var h http.Handler = r
	h = httpapi.CORS(d.corsOrigins, d.log, d.metrics)(h)
	h = httpapi.Recover(d.log)(h)
	h = httpapi.Trace(d.traceProj)(h)
	h = httpapi.CloseUnsafeFraming(d.log)(h)
	h = httpapi.Measure(d.metrics, routeTemplate(r))(h)
	h = httpapi.CloseWhen(d.draining)(h)
	return h
}

// router is every route, without the middleware around them.
func router(d routeDeps) *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = httpapi.NotFound(d.log)
	r.MethodNotAllowedHandler = httpapi.MethodNotAllowed(d.log)

	r.Handle("/healthz", httpapi.HandleHealthz()).Methods(http.MethodGet)
	r.Handle("/readyz", httpapi.HandleReadyz(d.readiness...)).Methods(http.MethodGet)
	r.Handle("/exchange", httpapi.LimitClients(d.log, d.metrics, d.clientLimit, d.trustedProxies)(
		httpapi.HandleExchange(d.log, d.metrics, d.exchanger))).Methods(http.MethodPost)
	if d.serveMetrics {
		r.Handle("/metrics", d.metrics.Handler()).Methods(http.MethodGet)
	}
	if d.externalToken != nil {
		r.Handle("/webhook/external-token", d.externalToken).Methods(http.MethodPost)
	}
	if d.audit != nil {
		r.Handle("/webhook/audit", d.audit).Methods(http.MethodPost)
	}
	return r
}

// routeTemplate names a request by the template of the route it matches.
func routeTemplate(r *mux.Router) func(*http.Request) string {
	return func(req *http.Request) string {
		var m mux.RouteMatch
		if r.Match(req, &m) && m.Route != nil {
			if t, err := m.Route.GetPathTemplate(); err == nil {
				return t
			}
		}
		return httpapi.UnmatchedRoute
	}
}

// metricsRoutes is the separate metrics listener's only route (METRICS_ADDR).
func metricsRoutes(d routeDeps) http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = httpapi.NotFound(d.log)
	r.MethodNotAllowedHandler = httpapi.MethodNotAllowed(d.log)
	r.Handle("/metrics", d.metrics.Handler()).Methods(http.MethodGet)
	return httpapi.CloseUnsafeFraming(d.log)(r)
}
