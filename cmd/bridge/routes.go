package main

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/dfbridge/dfbridge/httpapi"
)

// routeDeps is everything the routes close over.
type routeDeps struct {
	log       *slog.Logger
	exchanger httpapi.Exchanger
	traceProj string
	readiness []httpapi.ReadinessCheck
}

// addRoutes is the one list of every route and middleware of the service.
func addRoutes(d routeDeps) http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = httpapi.NotFound(d.log)
	r.MethodNotAllowedHandler = httpapi.MethodNotAllowed(d.log)

	r.Handle("/healthz", httpapi.HandleHealthz()).Methods(http.MethodGet)
	r.Handle("/readyz", httpapi.HandleReadyz(d.readiness...)).Methods(http.MethodGet)
	r.Handle("/exchange", httpapi.HandleExchange(d.log, d.exchanger)).Methods(http.MethodPost)

	var h http.Handler = r
	h = httpapi.Recover(d.log)(h)
	h = httpapi.Trace(d.traceProj)(h)
	return h
}
