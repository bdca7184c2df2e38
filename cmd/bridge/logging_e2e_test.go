package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/httpapi"
)

// linesWith returns the service's JSON log lines whose message is msg.
func (s *stack) linesWith(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "log line is not JSON: %s", sc.Text())
		if m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// On Cloud Run, each exchange's log line is linked to the request's trace
// under the service's project, carries the result and the token's
// fingerprint, and never the session token or the custom token.
func TestExchangeLogLinesCarryTheTraceAndNoToken(t *testing.T) {
	t.Parallel()
	const traceID = "105445aa7843bc8bf206b12000100000"
	cases := []struct {
		name    string
		env     map[string]string
		project string
	}{
		{"the trace is named by the Firebase project by default", nil, "demo-dfbridge"},
		{"GOOGLE_CLOUD_PROJECT names the trace when set", map[string]string{"GOOGLE_CLOUD_PROJECT": "run-host-project"}, "run-host-project"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := keyStack(t, c.env)
			tok := s.session(t, descopestub.Session{UserID: "Ulogged"})
			ok := s.do(t, http.MethodPost, "/exchange", map[string]string{
				"Authorization":         "Bearer " + tok,
				"X-Cloud-Trace-Context": traceID + "/1;o=1",
			}, nil)
			require.Equal(t, http.StatusOK, ok.Status, "body: %s", ok.Body)
			custom := ok.json(t)["externalToken"].(string)
			refused := s.do(t, http.MethodPost, "/exchange", map[string]string{
				"Authorization": "Bearer " + tok + "x",
				"traceparent":   "00-" + traceID + "-00f067aa0ba902b7-01",
			}, nil)
			require.Equal(t, http.StatusUnauthorized, refused.Status)

			wantTrace := "projects/" + c.project + "/traces/" + traceID
			exchanges := s.linesWith(t, "exchange")
			require.Len(t, exchanges, 1)
			assert.Equal(t, "INFO", exchanges[0]["severity"])
			assert.Equal(t, wantTrace, exchanges[0]["logging.googleapis.com/trace"])
			assert.Equal(t, true, exchanges[0]["logging.googleapis.com/trace_sampled"])
			assert.Equal(t, "ok", exchanges[0]["code"])
			assert.Equal(t, "Ulogged", exchanges[0]["uid"])
			assert.Equal(t, httpapi.TokenFingerprint(tok), exchanges[0]["token_sha256"])

			refusals := s.linesWith(t, "request refused")
			require.Len(t, refusals, 1)
			assert.Equal(t, "WARNING", refusals[0]["severity"])
			assert.Equal(t, wantTrace, refusals[0]["logging.googleapis.com/trace"])
			assert.Equal(t, "00f067aa0ba902b7", refusals[0]["logging.googleapis.com/spanId"])
			assert.Equal(t, httpapi.TokenFingerprint(tok+"x"), refusals[0]["token_sha256"])

			logs := s.logs.String()
			for _, secret := range []string{tok, custom, strings.Split(tok, ".")[2], strings.Split(custom, ".")[2]} {
				assert.NotContains(t, logs, secret)
			}
		})
	}
}
