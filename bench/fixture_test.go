package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The benchmarks measure a working exchange: the fixture's handler turns a
// pre-minted session into a custom token for that session's user.
func TestFixtureExchangesASession(t *testing.T) {
	s, err := NewStandIn()
	require.NoError(t, err)
	defer s.Close()
	p, err := NewPipeline(context.Background(), s)
	require.NoError(t, err)
	sessions, err := s.Sessions(2)
	require.NoError(t, err)
	var logs bytes.Buffer
	h := p.Handler(&logs, p.Exchanger)

	for i, tok := range sessions {
		req := httptest.NewRequest(http.MethodPost, "/exchange", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
		var body struct {
			ExternalToken string `json:"externalToken"`
			UID           string `json:"uid"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		assert.NotEmpty(t, body.ExternalToken)
		assert.Equal(t, []string{"U2bench000000", "U2bench000001"}[i], body.UID, "each session is a distinct user")
	}
	assert.NotContains(t, logs.String(), sessions[0], "the log never holds a session token")
}
