// Package httpapi is the HTTP face of the bridge: the handlers for
// /exchange and the health routes, the one JSON decode and encode helper, the
// one table from bridge error codes to HTTP statuses, and the middleware
// (logging with Cloud Logging fields, panic recovery).
package httpapi
