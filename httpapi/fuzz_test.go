package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
)

// acceptOne is an in-memory Exchanger that accepts one token and refuses
// every other as malformed, recording what it was given.
type acceptOne struct {
	valid string
	got   *string
}

func (a acceptOne) Exchange(_ context.Context, token string) (*bridge.Result, error) {
	*a.got = token
	if token != a.valid {
		return nil, bridge.Errorf(bridge.CodeMalformedToken, "not the one")
	}
	return &bridge.Result{Token: "custom", UID: "U2fuzz", ExpiresAt: time.Unix(1_800_000_000, 0)}, nil
}

// ExchangeSession is not reached through POST /exchange.
func (a acceptOne) ExchangeSession(context.Context, *bridge.Session) (*bridge.Result, error) {
	return nil, bridge.Errorf(bridge.CodeInternal, "POST /exchange exchanged a session")
}

// FuzzExchangeRequest sends arbitrary headers and bodies to POST /exchange.
// Whatever arrives, the handler answers 200 or a 4xx in the API's shape with
// the code's constant message (so nothing of the input is echoed), and hands
// the exchanger exactly the token the request carried.
func FuzzExchangeRequest(f *testing.F) {
	const valid = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMiJ9.c2ln"
	f.Add("", "Bearer "+valid, []byte(nil), false)
	f.Add("application/json", "", []byte(`{"sessionJwt":"`+valid+`"}`), false)
	f.Add("application/json; charset=utf-8", "", []byte(`{"sessionJwt":"x"} `), true)
	f.Add("text/plain", "", []byte(`{"sessionJwt":"x"}`), false)
	f.Add("application/json", "Bearer x", []byte(`{"sessionJwt":"y"}`), false)
	f.Add("application/json", "", []byte(`{"sessionJwt":"x","extra":1}`), false)
	f.Add("application/json", "", []byte(`{"sessionJwt":"x"}{}`), true)
	f.Add("application/json", "", []byte(`null`), false)

	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, contentType, authorization string, body []byte, chunked bool) {
		var got string
		h := HandleExchange(log, nil, acceptOne{valid: valid, got: &got})
		r := httptest.NewRequest(http.MethodPost, "/exchange", bytes.NewReader(body))
		if chunked {
			r.ContentLength = -1
		}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		if w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("content type %q", w.Header().Get("Content-Type"))
		}
		if w.Code == http.StatusOK {
			if got != valid {
				t.Fatalf("200 for a token the exchanger refused: %q", got)
			}
		} else {
			var e errorBody
			dec := json.NewDecoder(w.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil {
				t.Fatalf("status %d with a body not in the error shape: %v", w.Code, err)
			}
			info, known := errorTable[e.Error.Code]
			if !known || info.status != w.Code || info.message != e.Error.Message {
				t.Fatalf("status %d with code %q and message %q, not the table's", w.Code, e.Error.Code, e.Error.Message)
			}
			if w.Code < 400 || w.Code > 499 {
				t.Fatalf("status %d for a request: %s", w.Code, e.Error.Code)
			}
		}
		if got == "" {
			return
		}
		// The exchanger saw a token: it must be exactly the one sent.
		if scheme, tok, ok := strings.Cut(authorization, " "); authorization != "" {
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) != got {
				t.Fatalf("exchanger got %q from Authorization %q", got, authorization)
			}
			return
		}
		var req exchangeRequest
		if err := json.Unmarshal(body, &req); err != nil || req.SessionJWT != got {
			t.Fatalf("exchanger got %q from body %q", got, body)
		}
	})
}
