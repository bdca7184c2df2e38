package httpapi

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
)

// MaxHeaderBytes is the most request-header bytes (request line included)
// the server reads. net/http reads maxHeaderBytes plus 4 KiB of slack
// before it refuses with 431, so the server is given the limit less that
// slack: a 16 KiB header block is the largest served.
const MaxHeaderBytes = 16 << 10

// headerSlack is what net/http reads past Server.MaxHeaderBytes.
const headerSlack = 4 << 10

// ServerTimeouts bounds how long a connection may take over each part of
// a request.
type ServerTimeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

// NewServer is the HTTP server every listener of the service runs: HTTP/1.1
// only (Cloud Run's "http1" port speaks it; h2c is not served) and the
// header limit above; the routes wrap their handler in CloseUnsafeFraming.
// Requests outlive ctx's cancellation, so a graceful shutdown lets them
// finish; errorLog receives net/http's own messages.
func NewServer(ctx context.Context, h http.Handler, t ServerTimeouts, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    MaxHeaderBytes - headerSlack,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		// OPTIONS * reaches the handler like any request (and gets 404
		// there), so nothing is answered outside the middleware.
		DisableGeneralOptionsHandler: true,
		// An empty, non-nil map turns HTTP/2 off, prior knowledge included.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
}

// CloseUnsafeFraming closes the connection after answering any request
// whose framing a proxy in front could read differently from net/http:
//
//   - one with Transfer-Encoding (RFC 9112 §6.1: a request with both
//     Transfer-Encoding and Content-Length may be served by its chunks, but
//     its connection must then be closed; net/http deletes the
//     Content-Length header before the handler sees it, so every chunked
//     request is treated so);
//   - one in HTTP/1.0, whose Transfer-Encoding net/http ignores (and
//     deletes) in favour of Content-Length.
//
// Whatever bytes follow such a request on its connection are never read as
// a request, so no request can be smuggled behind it. There is no second
// parser here that could disagree with net/http or fall out of step with
// it: each request is judged by what net/http itself parsed. Descope's
// calls and the clients' send Content-Length over HTTP/1.1 and keep their
// connections. A request in another major version (an HTTP/2 preface sent
// in the clear) is answered 400 and its connection closed: h2c is not
// served.
func CloseUnsafeFraming(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor != 1 {
				w.Header().Set("Connection", "close")
				WriteError(w, r, log, bridge.Errorf(bridge.CodeBadRequest, "%s is not served; use HTTP/1.1", bridge.Truncate(r.Proto, 16)))
				return
			}
			if len(r.TransferEncoding) > 0 || !r.ProtoAtLeast(1, 1) {
				w.Header().Set("Connection", "close")
			}
			next.ServeHTTP(w, r)
		})
	}
}
