package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A body whose framing is broken, or that ends short of its declared
// length, is refused with 400 in the API's error shape (not a bare 499):
// the sender is still there to read the answer.
func TestBrokenBodyFramingIsA400InTheErrorShape(t *testing.T) {
	log := NewLogger(io.Discard, slog.LevelDebug)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := ReadBody(w, r, 1024); err != nil {
			WriteError(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer ts.Close()
	cases := []struct {
		name, raw string
	}{
		{"a chunk length that is not hex", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
		{"a chunk with no CRLF after its data", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef0\r\n\r\n"},
		{"a body cut short of its Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ts.Listener.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
			_, err = io.WriteString(conn, tc.raw)
			require.NoError(t, err)
			require.NoError(t, conn.(*net.TCPConn).CloseWrite()) // the sender is done, and still reading
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			var body errorBody
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, "bad_request", string(body.Error.Code))
		})
	}
}

// servedLog records, in order, the request targets a test server served.
type servedLog struct {
	mu     sync.Mutex
	served []string
}

func (l *servedLog) add(target string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.served = append(l.served, target)
}

func (l *servedLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.served...)
}

// framingServer runs NewServer, with the service's framing middleware,
// over a handler that reads the body and answers 204, recording what it
// served.
func framingServer(t *testing.T) (addr string, served *servedLog) {
	t.Helper()
	log := NewLogger(io.Discard, slog.LevelDebug)
	served = &servedLog{}
	h := CloseUnsafeFraming(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.add(r.RequestURI)
		if _, err := ReadBody(w, r, 1024); err != nil {
			WriteError(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := NewServer(t.Context(), h, ServerTimeouts{ReadHeader: 5 * time.Second, Read: 5 * time.Second,
		Write: 5 * time.Second, Idle: 5 * time.Second}, log)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), served
}

// connResult is what one connection got back.
type connResult struct {
	statuses []int
	// closed: the server closed the connection after the last answer.
	closed bool
}

// rawExchange writes raw on one connection, step bytes at a time (0: at
// once), and reads answers until the server closes the connection or none
// comes within a short wait.
func rawExchange(t *testing.T, addr, raw string, step int) connResult {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	if step <= 0 {
		step = len(raw)
	}
	for i := 0; i < len(raw); i += step {
		if _, err := io.WriteString(conn, raw[i:min(i+step, len(raw))]); err != nil {
			break // the server closed early: what it answered is read below
		}
	}
	br := bufio.NewReader(conn)
	var res connResult
	for {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(700*time.Millisecond)))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			res.closed = !errors.As(err, &ne) || !ne.Timeout()
			return res
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode < 200 {
			continue // 100 Continue: the answer follows
		}
		res.statuses = append(res.statuses, resp.StatusCode)
		if resp.Close {
			res.closed = true
			return res
		}
	}
}

const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

// Requests whose framing a proxy in front could read differently from
// net/http: each is followed on its connection by a request a desynced
// reader would serve. None of those is ever served: the connection closes
// after at most one answer, which is never a 5xx but net/http's own 501
// for a transfer coding it does not implement (RFC 9112 §6.1). The corpus holds the
// cases the security review found against the former framing scanner and
// those it held.
func TestFramingThatCouldDesyncNeverServesAnInnerRequest(t *testing.T) {
	addr, served := framingServer(t)
	cases := []struct {
		name, raw string
	}{
		{"Transfer-Encoding then Content-Length", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + smuggled},
		{"Content-Length then Transfer-Encoding", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"both, in other letter cases", "POST /a HTTP/1.1\r\nHost: x\r\ntransfer-encoding: Chunked\r\ncontent-length: 0\r\n\r\n0\r\n\r\n" + smuggled},
		{"an obs-folded Transfer-Encoding beside a Content-Length", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n" + smuggled},
		{"an obs-folded Content-Length beside a Transfer-Encoding", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"HTTP/1.0 keep-alive with Transfer-Encoding and Content-Length", "POST /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
		{"HTTP/1.0 keep-alive with Transfer-Encoding alone", "POST /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"Transfer-Encoding doubled", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
		{"Transfer-Encoding listed with gzip", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
		{"Transfer-Encoding chunked, identity", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled},
		{"Transfer-Encoding with a tab before chunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
		{"Transfer-Encoding xchunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
		{"Content-Length +5", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello" + smuggled},
		{"two Content-Lengths that differ", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello" + smuggled},
		{"a 16-digit chunk size", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000003\r\nabc\r\n0\r\n\r\n" + smuggled},
		{"a request hidden in a chunk extension", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=\"\r\n" + smuggled + "\"\r\nabc\r\n0\r\n\r\n" + smuggled},
		{"a request hidden in trailers", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n" + smuggled},
		{"OPTIONS * with both framings", "OPTIONS * HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
		{"Expect 100-continue with both framings", "POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
		{"bare LF line ends with both framings", "POST /a HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\nContent-Length: 5\n\n0\n\n" + smuggled},
		{"both framings, sent a byte at a time", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			step := 0
			if strings.Contains(tc.name, "a byte at a time") {
				step = 1
			}
			before := len(served.list())
			res := rawExchange(t, addr, tc.raw, step)
			assert.True(t, res.closed, "the connection is closed after the answer")
			assert.LessOrEqual(t, len(res.statuses), 1, "at most one answer: %v", res.statuses)
			for _, s := range res.statuses {
				if s != http.StatusNotImplemented || !strings.Contains(tc.raw, "Transfer-Encoding: ") {
					assert.Less(t, s, 500, "never a 5xx")
				}
			}
			assert.NotContains(t, served.list()[before:], "/smuggled")
		})
	}
}

// Requests framed one way, over HTTP/1.1, are served and keep their
// connection, however the bytes are split and whatever net/http answered
// itself before them (OPTIONS *, which the former scanner lost count at).
func TestCleanFramingIsServedAndKeptAlive(t *testing.T) {
	addr, served := framingServer(t)
	plain := "POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	get := "GET /get HTTP/1.1\r\nHost: x\r\n\r\n"
	options := "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"
	expect := "POST /expect HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"
	sameCL := "POST /samecl HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"

	for _, step := range []int{0, 1, 2, 3, 5, 7, 13} {
		t.Run(fmt.Sprintf("pipelined, written %d bytes at a time", step), func(t *testing.T) {
			before := len(served.list())
			res := rawExchange(t, addr, plain+get+expect+sameCL+plain, step)
			assert.Equal(t, []int{204, 204, 204, 204, 204}, res.statuses)
			assert.False(t, res.closed, "the connection stays open")
			assert.Equal(t, []string{"/plain", "/get", "/expect", "/samecl", "/plain"}, served.list()[before:])
		})
	}
	t.Run("OPTIONS * before clean requests shifts nothing", func(t *testing.T) {
		before := len(served.list())
		res := rawExchange(t, addr, options+plain+options+get, 0)
		assert.Equal(t, []int{204, 204, 204, 204}, res.statuses)
		assert.False(t, res.closed)
		assert.Equal(t, []string{"*", "/plain", "*", "/get"}, served.list()[before:])
	})
	t.Run("a thousand OPTIONS * on one connection are all answered", func(t *testing.T) {
		res := rawExchange(t, addr, strings.Repeat(options, 1000), 0)
		assert.Len(t, res.statuses, 1000)
		assert.False(t, res.closed)
	})
	t.Run("a chunked body with extensions and trailers is served, then the connection closes", func(t *testing.T) {
		chunked := "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
		before := len(served.list())
		res := rawExchange(t, addr, chunked+get, 0)
		assert.Equal(t, []int{204}, res.statuses)
		assert.True(t, res.closed)
		assert.Equal(t, []string{"/chunked"}, served.list()[before:])
	})
	t.Run("the standard client's chunked bodies pass", func(t *testing.T) {
		for range 5 {
			req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/client", io.MultiReader(bytes.NewReader([]byte(`{"a":1}`))))
			require.NoError(t, err)
			req.ContentLength = -1
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
		}
	})
}

// Header blocks up to MaxHeaderBytes are served; one byte-count past 16 KiB
// gets 431, as the docs say (net/http's own slack is taken off).
func TestHeaderLimitIsSixteenKiB(t *testing.T) {
	addr, _ := framingServer(t)
	block := func(n int) string {
		head := "GET /h HTTP/1.1\r\nHost: x\r\nX-Pad: "
		return head + strings.Repeat("a", n-len(head)-4) + "\r\n\r\n"
	}
	assert.Equal(t, []int{204}, rawExchange(t, addr, block(MaxHeaderBytes-64), 0).statuses, "just under 16 KiB")
	res := rawExchange(t, addr, block(MaxHeaderBytes+512), 0)
	assert.Equal(t, []int{http.StatusRequestHeaderFieldsTooLarge}, res.statuses, "just over 16 KiB")
	assert.Equal(t, []int{http.StatusRequestHeaderFieldsTooLarge}, rawExchange(t, addr, block(20_000), 0).statuses, "20,000 bytes")
}

// The server speaks HTTP/1.1 only: an HTTP/2 prior-knowledge preface is
// not served as HTTP/2.
func TestHTTP2PriorKnowledgeIsNotServed(t *testing.T) {
	addr, served := framingServer(t)
	res := rawExchange(t, addr, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0)
	assert.True(t, res.closed)
	for _, s := range res.statuses {
		assert.GreaterOrEqual(t, s, 400)
	}
	assert.Empty(t, served.list())
}
