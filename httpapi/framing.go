package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/dfbridge/dfbridge/bridge"
)

// Go's server accepts a request that carries both Transfer-Encoding:
// chunked and Content-Length (RFC 9112 lets a server go by the chunking),
// and drops the Content-Length header before a handler could see it. A
// proxy in front that goes by the Content-Length instead would see another
// request boundary: request smuggling. The bridge refuses such requests
// with 400. To see them it reads the raw bytes: FramingListener wraps each
// connection in a scanner that follows HTTP/1.1 message framing as the
// server reads, and records, request by request, whether the headers were
// ambiguous; RefuseAmbiguousFraming takes each request's verdict in order.

// FramingListener wraps ln so that its connections record ambiguous
// framing; the server must also set ConnContext to FramingContext.
func FramingListener(ln net.Listener) net.Listener { return framingListener{ln} }

type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

type framingKey struct{}

// FramingContext is the server's ConnContext: it hands the connection's
// scanner to its requests.
func FramingContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, framingKey{}, fc)
	}
	return ctx
}

// RefuseAmbiguousFraming answers 400 to a request whose headers held both
// Transfer-Encoding and Content-Length, and closes its connection.
func RefuseAmbiguousFraming(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if fc, ok := r.Context().Value(framingKey{}).(*framingConn); ok && fc.next() {
				w.Header().Set("Connection", "close")
				WriteError(w, r, log, bridge.Errorf(bridge.CodeBadRequest,
					"ambiguous framing: both Transfer-Encoding and Content-Length"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// framingConn is a connection whose incoming bytes are followed.
type framingConn struct {
	net.Conn
	mu       sync.Mutex
	scan     framingScanner
	verdicts []bool
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.scan.feed(p[:n], func(ambiguous bool) { c.verdicts = append(c.verdicts, ambiguous) })
		c.mu.Unlock()
	}
	return n, err
}

// CloseWrite half-closes the connection as the TCP connection would: the
// server relies on it to finish an early answer (431, 413) without a reset
// that would lose the answer while the client still sends.
func (c *framingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// next takes the verdict of the oldest request not yet served.
func (c *framingConn) next() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.verdicts) == 0 {
		return false
	}
	v := c.verdicts[0]
	c.verdicts = c.verdicts[1:]
	return v
}

// Scanner states.
const (
	scanHeaders = iota
	scanBody
	scanChunkSize
	scanChunkData
	scanChunkEnd
	scanTrailers
	scanOff // not HTTP/1.1 as followed here: the server judges alone
)

// maxScanLine bounds a line the scanner holds; the server's own header
// limit (16 KiB) refuses longer ones first.
const maxScanLine = 64 << 10

// framingScanner follows HTTP/1.1 requests on a byte stream: header
// blocks, then a body by Content-Length or by chunks.
type framingScanner struct {
	state     int
	line      []byte
	lines     int // lines of the current header block
	te, cl    bool
	chunked   bool
	length    int64
	remaining int64
}

func (s *framingScanner) feed(b []byte, verdict func(ambiguous bool)) {
	for len(b) > 0 && s.state != scanOff {
		switch s.state {
		case scanBody, scanChunkData:
			n := min(int64(len(b)), s.remaining)
			s.remaining -= n
			b = b[n:]
			if s.remaining == 0 {
				if s.state == scanBody {
					s.state = scanHeaders
				} else {
					s.state = scanChunkEnd
				}
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			s.line = append(s.line, b...)
			if len(s.line) > maxScanLine {
				s.state = scanOff
			}
			return
		}
		s.line = append(s.line, b[:i]...)
		b = b[i+1:]
		line := bytes.TrimSuffix(s.line, []byte("\r"))
		s.onLine(line, verdict)
		s.line = s.line[:0]
	}
}

func (s *framingScanner) onLine(line []byte, verdict func(bool)) {
	switch s.state {
	case scanHeaders:
		s.onHeaderLine(line, verdict)
	case scanChunkSize:
		size, ok := chunkSize(line)
		switch {
		case !ok:
			s.state = scanOff
		case size == 0:
			s.state = scanTrailers
		default:
			s.remaining, s.state = size, scanChunkData
		}
	case scanChunkEnd:
		if len(line) != 0 {
			s.state = scanOff
			return
		}
		s.state = scanChunkSize
	case scanTrailers:
		if len(line) == 0 {
			s.state = scanHeaders
		}
	}
}

func (s *framingScanner) onHeaderLine(line []byte, verdict func(bool)) {
	if len(line) == 0 {
		if s.lines == 0 {
			return // a stray CRLF between requests
		}
		verdict(s.te && s.cl)
		switch {
		case s.chunked:
			s.state = scanChunkSize
		case s.length > 0:
			s.remaining, s.state = s.length, scanBody
		}
		s.lines, s.te, s.cl, s.chunked, s.length = 0, false, false, false, 0
		return
	}
	s.lines++
	if s.lines == 1 {
		if bytes.HasPrefix(line, []byte("PRI * HTTP/2")) {
			s.state = scanOff
		}
		return
	}
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return
	}
	value = bytes.TrimSpace(value)
	switch string(bytes.ToLower(bytes.TrimSpace(name))) {
	case "transfer-encoding":
		s.te = true
		s.chunked = s.chunked || bytes.Contains(bytes.ToLower(value), []byte("chunked"))
	case "content-length":
		s.cl = true
		n, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || n < 0 {
			s.state = scanOff // the server refuses it
			return
		}
		s.length = n
	}
}

// chunkSize reads a chunk-size line: hex digits, then extensions.
func chunkSize(line []byte) (int64, bool) {
	hex, _, _ := bytes.Cut(line, []byte(";"))
	hex = bytes.TrimSpace(hex)
	if len(hex) == 0 || len(hex) > 15 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(hex), 16, 64)
	return n, err == nil && n >= 0
}
