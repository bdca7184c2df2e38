package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strings"
	"syscall"

	"github.com/dfbridge/dfbridge/bridge"
)

// decodeJSON reads one JSON object from r's body into v: the body is capped
// at limit bytes, the content type must be JSON, unknown fields and trailing
// data are refused. Errors are *bridge.Error with request-shape codes.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return bridge.Errorf(bridge.CodeUnsupportedMediaType, "content type %q", bridge.Truncate(ct, 40))
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
	return ReadBodyInto(w, r, limit, nil, nil)
}

// ReadBodyInto is ReadBody that also writes the body to tee as it streams
// in (a signature being computed, say), and reads it into buf when buf can
// hold limit bytes (a pooled buffer; nil allocates).
//
// A read that fails is told apart: the body was cut short of its declared
// length, or its framing is broken (a malformed chunk), both 400
// bad_request in the API's error shape; or the client went away (its
// request's context ended, or the connection was reset: not answered).
func ReadBodyInto(w http.ResponseWriter, r *http.Request, limit int64, tee io.Writer, buf []byte) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, bridge.Errorf(bridge.CodeRequestTooLarge, "content length %d over %d", r.ContentLength, limit)
	}
	var src io.Reader = http.MaxBytesReader(w, r.Body, limit)
	if tee != nil {
		src = io.TeeReader(src, tee)
	}
	if int64(cap(buf)) < limit {
		buf = nil
	}
	if r.ContentLength >= 0 {
		// The declared length, read into exactly that much memory; the
		// server's reader ends the body there.
		var body []byte
		if buf != nil {
			body = buf[:r.ContentLength]
		} else {
			body = make([]byte, r.ContentLength)
		}
		if _, err := io.ReadFull(src, body); err != nil {
			return nil, bodyError(r, err, limit)
		}
		return body, nil
	}
	if buf == nil {
		var b bytes.Buffer
		if _, err := b.ReadFrom(src); err != nil {
			return nil, bodyError(r, err, limit)
		}
		return b.Bytes(), nil
	}
	// Chunked, into the buffer: MaxBytesReader refuses a byte past limit.
	buf = buf[:cap(buf)]
	n := 0
	for {
		m, err := src.Read(buf[n:])
		n += m
		if err == io.EOF {
			return buf[:n], nil
		}
		if err != nil {
			return nil, bodyError(r, err, limit)
		}
		if n == len(buf) {
			// Full: only EOF or the limit's refusal may follow.
			var one [1]byte
			if _, err := src.Read(one[:]); err != io.EOF {
				if err == nil {
					err = &http.MaxBytesError{Limit: limit}
				}
				return nil, bodyError(r, err, limit)
			}
			return buf[:n], nil
		}
	}
}

// bodyError classifies a failed body read.
func bodyError(r *http.Request, err error, limit int64) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return bridge.Errorf(bridge.CodeRequestTooLarge, "body over %d bytes", limit)
	case errors.Is(err, io.ErrUnexpectedEOF):
		// The sender stopped short; it may still be reading (a half-close
		// looks the same as a hang-up here), so it is answered.
		return bridge.Errorf(bridge.CodeBadRequest, "body cut short of its declared length: %v", err)
	case isTimeout(err):
		// The sender is slow, not gone: it is told so, and its connection
		// closes (the read deadline has passed; nothing more can be read).
		return bridge.Wrap(bridge.CodeRequestTimeout, err, "reading body")
	case r.Context().Err() != nil:
		return bridge.Wrap(bridge.CodeBadRequest, fmt.Errorf("%w: %w", errClientGone, err), "reading body")
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) {
		return bridge.Wrap(bridge.CodeBadRequest, fmt.Errorf("%w: %w", errClientGone, err), "reading body")
	}
	return bridge.Errorf(bridge.CodeBadRequest, "malformed body framing: %v", err)
}

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// decodeStrict decodes exactly one JSON value with no unknown fields, no
// trailing data, and, for a struct, field names spelt exactly as declared
// and given once (encoding/json alone matches names case-insensitively and
// keeps the last of duplicates, so two readers could see two values).
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bridge.Errorf(bridge.CodeBadRequest, "body is not the expected JSON object: %s", jsonErrorKind(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return bridge.Errorf(bridge.CodeBadRequest, "body has trailing data")
	}
	if names := fieldNames(v); names != nil {
		return checkFieldNames(body, names)
	}
	return nil
}

// fieldNames returns the exact JSON names of the struct v points to, or nil
// when v is not a struct.
func fieldNames(v any) map[string]bool {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	names := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
	return names
}

// checkFieldNames walks the top-level keys of a body that already decoded
// cleanly and refuses any not spelt exactly as declared, or repeated.
func checkFieldNames(body []byte, names map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil // not an object: Decode has judged it already
	}
	seen := make(map[string]bool, len(names))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bridge.Errorf(bridge.CodeBadRequest, "body is not the expected JSON object: syntax error")
		}
		key, _ := tok.(string)
		if !names[key] {
			return bridge.Errorf(bridge.CodeBadRequest, "body has a field not spelt as declared (names are case-sensitive)")
		}
		if seen[key] {
			return bridge.Errorf(bridge.CodeBadRequest, "body repeats a field")
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return bridge.Errorf(bridge.CodeBadRequest, "body is not the expected JSON object: syntax error")
		}
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
