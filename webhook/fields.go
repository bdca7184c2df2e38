package webhook

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
)

// Descope documents what its connectors send only loosely, so bodies are
// read as generic JSON: unknown fields are ignored, and each known field is
// type-checked where it is read. A known field of the wrong type is a 400
// naming the field, never a silent default.

// decodeValue decodes exactly one JSON value, with numbers kept exact.
func decodeValue(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, bridge.Errorf(bridge.CodeBadRequest, "body is not JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bridge.Errorf(bridge.CodeBadRequest, "body has trailing data")
	}
	return v, nil
}

func wrongType(field, want string) error {
	return bridge.Errorf(bridge.CodeBadRequest, "%s is not %s", field, want)
}

// firstPresent returns the value of the first of names that m has.
func firstPresent(m map[string]any, names ...string) (string, any, bool) {
	for _, n := range names {
		if v, ok := m[n]; ok && v != nil {
			return n, v, true
		}
	}
	return "", nil, false
}

// stringField reads the first present of names as a string ("" if none).
func stringField(m map[string]any, names ...string) (string, error) {
	name, v, ok := firstPresent(m, names...)
	if !ok {
		return "", nil
	}
	s, isString := v.(string)
	if !isString {
		return "", wrongType(name, "a string")
	}
	return s, nil
}

// boolField reads the first present of names as a boolean.
func boolField(m map[string]any, names ...string) (bool, error) {
	name, v, ok := firstPresent(m, names...)
	if !ok {
		return false, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, wrongType(name, "a boolean")
	}
	return b, nil
}

// stringsField reads the first present of names as a list of strings.
func stringsField(m map[string]any, names ...string) ([]string, error) {
	name, v, ok := firstPresent(m, names...)
	if !ok {
		return nil, nil
	}
	return stringList(name, v)
}

func stringList(name string, v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, wrongType(name, "a list of strings")
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, wrongType(name, "a list of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

// objectField reads the first present of names as a JSON object.
func objectField(m map[string]any, names ...string) (map[string]any, error) {
	name, v, ok := firstPresent(m, names...)
	if !ok {
		return nil, nil
	}
	o, isObject := v.(map[string]any)
	if !isObject {
		return nil, wrongType(name, "an object")
	}
	return o, nil
}

// timeField reads a time in Unix milliseconds, given as a JSON number or a
// string of digits (Descope's audit records send a string); zero when absent.
func timeField(m map[string]any, name string) (time.Time, error) {
	v, ok := m[name]
	if !ok || v == nil {
		return time.Time{}, nil
	}
	var text string
	switch x := v.(type) {
	case json.Number:
		text = x.String()
	case string:
		text = x
	default:
		return time.Time{}, wrongType(name, "Unix milliseconds")
	}
	ms, err := strconv.ParseInt(text, 10, 64)
	if err != nil || ms < 0 {
		return time.Time{}, wrongType(name, "Unix milliseconds")
	}
	return time.UnixMilli(ms), nil
}
