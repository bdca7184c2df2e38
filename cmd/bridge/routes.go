package main

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/metrics"
)

// routeDeps is everything the routes close over.
type routeDeps struct {
	log       *slog.Logger
	metrics   *metrics.Metrics
	exchanger httpapi.Exchanger
	traceProj string
	readiness []httpapi.ReadinessCheck
	// corsOrigins may call the API from a browser.
	corsOrigins []string
	// clientLimit admits /exchange calls per client address;
	// trustedProxies says how that address is found.
	clientLimit    bridge.Limiter
	trustedProxies int
}

// addRoutes is the one list of every route and middleware of the service.
func addRoutes(d routeDeps) http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = httpapi.NotFound(d.log)
	r.MethodNotAllowedHandler = httpapi.MethodNotAllowed(d.log)

	r.Handle("/healthz", httpapi.HandleHealthz()).Methods(http.MethodGet)
	r.Handle("/readyz", httpapi.HandleReadyz(d.readiness...)).Methods(http.MethodGet)
	r.Handle("/exchange", httpapi.LimitClients(d.log, d.metrics, d.clientLimit, d.trustedProxies)(
		httpapi.HandleExchange(d.log, d.metrics, d.exchanger))).Methods(http.MethodPost)

	var h http.Handler = r
	h = httpapi.CORS(d.corsOrigins)(h)
	h = httpapi.Recover(d.log)(h)
	h = httpapi.Trace(d.traceProj)(h)
	return h
}
