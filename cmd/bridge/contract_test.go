package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/descopestub"
)

// onlyReader hides a body's length, so net/http sends it chunked.
type onlyReader struct{ io.Reader }

// The request contract: the bearer is the token, and a body beside it may
// be empty, {} or null; a body carrying sessionJwt as well is ambiguous
// however it is framed, by Content-Length or chunked.
func TestBearerWithEachBodyForm(t *testing.T) {
	t.Parallel()
	s := hostileStack(t, nil)
	tok := s.session(t, descopestub.Session{UserID: "U2contract"})
	other := s.session(t, descopestub.Session{UserID: "U2other"})
	cases := []struct {
		name        string
		body        string
		chunked     bool
		contentType string
		status      int
		code        string
	}{
		{"no body at all", "", false, "", 200, ""},
		{"an empty body with a JSON content type", "", false, "application/json", 200, ""},
		{"an empty object, as axios sends", "{}", false, "application/json", 200, ""},
		{"null", "null", false, "application/json", 200, ""},
		{"an empty object with whitespace", " {} \n", false, "application/json", 200, ""},
		{"an empty object as text/plain, as fetch sends a string", "{}", false, "text/plain;charset=UTF-8", 200, ""},
		{"an empty object, chunked", "{}", true, "application/json", 200, ""},
		{"an empty chunked body", "", true, "application/json", 200, ""},
		{"sessionJwt null counts as absent", `{"sessionJwt":null}`, false, "application/json", 200, ""},
		{"sessionJwt beside the bearer is ambiguous", `{"sessionJwt":"` + other + `"}`, false, "application/json", 400, "ambiguous_token"},
		{"sessionJwt beside the bearer is ambiguous when chunked", `{"sessionJwt":"` + other + `"}`, true, "application/json", 400, "ambiguous_token"},
		{"the same token twice is still ambiguous", `{"sessionJwt":"` + tok + `"}`, true, "application/json", 400, "ambiguous_token"},
		{"an empty sessionJwt beside the bearer is ambiguous", `{"sessionJwt":""}`, false, "application/json", 400, "ambiguous_token"},
		{"an unknown field beside the bearer is refused", `{"refreshJwt":"x"}`, false, "application/json", 400, "bad_request"},
		{"a body that is not JSON beside the bearer is refused", `sessionJwt=x`, true, "application/x-www-form-urlencoded", 400, "bad_request"},
		{"a list beside the bearer is refused", `[]`, false, "application/json", 400, "bad_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(c.body)
			if c.chunked {
				body = onlyReader{body}
			}
			req, err := http.NewRequest(http.MethodPost, s.url+"/exchange", body)
			require.NoError(t, err)
			if c.body == "" && !c.chunked {
				req.Body = http.NoBody
			}
			if c.chunked {
				req.ContentLength = -1 // unknown length: net/http sends it chunked
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			r := apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
			require.Equal(t, c.status, r.Status, "body: %s", b)
			if c.code != "" {
				assert.Equal(t, c.code, r.errorCode(t))
			}
			assert.NotContains(t, string(b), other)
		})
	}

	t.Run("a bare JWT in Authorization is told to add Bearer", func(t *testing.T) {
		r := s.do(t, http.MethodPost, "/exchange", map[string]string{"Authorization": tok}, nil)
		require.Equal(t, 401, r.Status)
		assert.Equal(t, "missing_bearer_scheme", r.errorCode(t))
		assert.Contains(t, string(r.Body), `add \"Bearer \"`)
		assert.NotContains(t, string(r.Body), tok)
	})
}
