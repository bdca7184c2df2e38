package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
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

// framingServer serves 204 to every request whose body reads, behind the
// ambiguous-framing guard.
func framingServer(t *testing.T) *httptest.Server {
	t.Helper()
	log := NewLogger(io.Discard, slog.LevelDebug)
	ts := httptest.NewUnstartedServer(RefuseAmbiguousFraming(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := ReadBody(w, r, 1024); err != nil {
			WriteError(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	ts.Listener = FramingListener(ts.Listener)
	ts.Config.ConnContext = FramingContext
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// rawExchange writes raw on one connection and reads n responses.
func rawExchange(t *testing.T, addr, raw string, n int) []int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, raw)
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	var statuses []int
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	return statuses
}

// A request carrying both Transfer-Encoding and Content-Length is refused
// with 400, whatever comes before it on the connection; requests framed
// one way or the other are served, in any order on one connection.
func TestAmbiguousFramingIsRefused(t *testing.T) {
	ts := framingServer(t)
	addr := ts.Listener.Addr().String()
	plain := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	chunked := "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
	empty := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	both := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	bothCased := "POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: Chunked\r\ncontent-length: 0\r\n\r\n0\r\n\r\n"

	assert.Equal(t, []int{400}, rawExchange(t, addr, both, 1), "both headers")
	assert.Equal(t, []int{400}, rawExchange(t, addr, bothCased, 1), "both headers, in other cases")
	assert.Equal(t, []int{204, 204, 204, 204}, rawExchange(t, addr, plain+chunked+empty+plain, 4),
		"requests framed one way or the other are served, kept alive and pipelined")
	assert.Equal(t, []int{204, 204, 400}, rawExchange(t, addr, chunked+plain+both, 3),
		"the verdict follows the request it belongs to")

	// The standard client's own chunked bodies pass.
	for range 20 {
		req, err := http.NewRequest(http.MethodPost, ts.URL, io.MultiReader(bytes.NewReader([]byte(`{"a":1}`))))
		require.NoError(t, err)
		req.ContentLength = -1
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
	}
}

// The framing scanner reads untrusted bytes as they arrive, split
// anywhere: it never panics, and how the bytes are split never changes its
// verdicts.
func FuzzFramingScanner(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"), uint8(7))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n"), uint8(1))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		var whole, split []bool
		var s1, s2 framingScanner
		s1.feed(data, func(v bool) { whole = append(whole, v) })
		n := int(step)%17 + 1
		for i := 0; i < len(data); i += n {
			s2.feed(data[i:min(i+n, len(data))], func(v bool) { split = append(split, v) })
		}
		if len(whole) != len(split) {
			t.Fatalf("verdicts whole %v, split by %d %v", whole, n, split)
		}
		for i := range whole {
			if whole[i] != split[i] {
				t.Fatalf("verdicts whole %v, split by %d %v", whole, n, split)
			}
		}
	})
}
