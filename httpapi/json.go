package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/dfbridge/dfbridge/bridge"
)

// decodeJSON reads one JSON object from r's body into v: the body is capped
// at limit bytes, the content type must be JSON, unknown fields and trailing
// data are refused. Errors are *bridge.Error with request-shape codes.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return bridge.Errorf(bridge.CodeUnsupportedMediaType, "content type %q", truncate(ct, 40))
		}
	} else {
		return bridge.Errorf(bridge.CodeUnsupportedMediaType, "no content type")
	}
	body, err := ReadBody(w, r, limit)
	if err != nil {
		return err
	}
	return decodeStrict(body, v)
}

// ReadBody reads r's body, refusing with request_too_large any body over
// limit bytes, whether its Content-Length says so up front or it turns out
// longer while read. Nothing is parsed before the size is known to be fine.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, bridge.Errorf(bridge.CodeRequestTooLarge, "content length %d over %d", r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, bridge.Errorf(bridge.CodeRequestTooLarge, "body over %d bytes", limit)
		}
		return nil, bridge.Wrap(bridge.CodeBadRequest, err, "reading body")
	}
	return body, nil
}

// decodeStrict decodes exactly one JSON value with no unknown fields.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bridge.Errorf(bridge.CodeBadRequest, "body is not the expected JSON object: %s", jsonErrorKind(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return bridge.Errorf(bridge.CodeBadRequest, "body has trailing data")
	}
	return nil
}

// jsonErrorKind describes a decode error without echoing input bytes.
func jsonErrorKind(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error"
	case errors.As(err, &te):
		return "wrong type for " + te.Field
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or truncated"
	}
	return "unknown field or bad shape"
}

// WriteJSON answers status with v as JSON, in the same way as every other
// answer of the service.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// writeJSON encodes v fully before writing, so an encoding failure never
// leaves a half-written 200.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal_error","message":"Internal error."}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
