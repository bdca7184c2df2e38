package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/metrics"
)

// MaxExchangeBody caps POST /exchange bodies. A session JWT is a few KB.
const MaxExchangeBody = 32 << 10

type exchangeRequest struct {
	SessionJWT string `json:"sessionJwt"`
}

type exchangeResponse struct {
	ExternalToken string `json:"externalToken"`
	UID           string `json:"uid"`
	ExpiresAt     int64  `json:"expiresAt"`
}

// HandleExchange serves POST /exchange: a Descope session JWT in, a Firebase
// custom token out. The token comes as a Bearer credential or as
// {"sessionJwt": ...}, the field name of Descope's own auth response.
func HandleExchange(log *slog.Logger, m *metrics.Metrics, x bridge.Exchanger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		token, err := sessionToken(w, r)
		var res *bridge.Result
		if err == nil {
			res, err = x.Exchange(r.Context(), token)
		}
		attrs := []slog.Attr{
			slog.String("token_sha256", TokenFingerprint(token)),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
		}
		if err != nil {
			if ClientClosed(r, err) {
				m.Exchange(CodeClientClosed)
			} else {
				m.Exchange(string(bridge.CodeOf(err)))
			}
			WriteError(w, r, log.With(attrsToAny(attrs)...), err)
			return
		}
		m.Exchange("ok")
		log.LogAttrs(r.Context(), slog.LevelInfo, "exchange",
			append(attrs, slog.String("code", "ok"), slog.String("uid", res.UID))...)
		writeJSON(w, http.StatusOK, exchangeResponse{
			ExternalToken: res.Token,
			UID:           res.UID,
			ExpiresAt:     res.ExpiresAt.Unix(),
		})
	})
}

// sessionToken takes the token from the Authorization header, or else from
// the JSON body. With a bearer the body may be empty, {} or null (what
// axios and many fetch wrappers send); a body that carries sessionJwt as
// well is refused as ambiguous, however it is framed (Content-Length or
// chunked), because the whole body is read before deciding.
func sessionToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok && strings.Count(h, ".") == 2 {
			return "", bridge.Errorf(bridge.CodeMissingBearer, "authorization header has no scheme")
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", bridge.Errorf(bridge.CodeMissingToken, "authorization header is not a bearer token")
		}
		if err := emptyBody(w, r); err != nil {
			return "", err
		}
		return strings.TrimSpace(tok), nil
	}
	if r.ContentLength == 0 {
		return "", bridge.Errorf(bridge.CodeMissingToken, "no authorization header and no body")
	}
	var req exchangeRequest
	if err := decodeJSON(w, r, MaxExchangeBody, &req); err != nil {
		return "", err
	}
	if req.SessionJWT == "" {
		return "", bridge.Errorf(bridge.CodeMissingToken, "sessionJwt is empty")
	}
	return req.SessionJWT, nil
}

// emptyBody reads the body beside a bearer token: nothing, {} or null are
// fine; sessionJwt in it is ambiguous; anything else is not the contract.
// The content type is not checked: the token came in a header, so a body
// that says nothing needs no type.
func emptyBody(w http.ResponseWriter, r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	body, err := ReadBody(w, r, MaxExchangeBody)
	if err != nil {
		return err
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil
	}
	var req struct {
		SessionJWT *json.RawMessage `json:"sessionJwt"`
	}
	if err := decodeStrict(trimmed, &req); err != nil {
		return err
	}
	if req.SessionJWT != nil {
		return bridge.Errorf(bridge.CodeAmbiguousToken, "token given in both header and body")
	}
	return nil
}

// TokenFingerprint is what logs say instead of a token: the first 12 hex
// digits of its SHA-256, enough to correlate, useless to replay.
func TokenFingerprint(token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
}

func attrsToAny(attrs []slog.Attr) []any {
	out := make([]any, len(attrs))
	for i, a := range attrs {
		out[i] = a
	}
	return out
}
