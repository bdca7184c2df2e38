package descopestub

import "net/http"

// Faults for SetKeysFault: the ways Descope's key endpoint can fail, so tests
// can prove the bridge keeps serving through each.

// FailWith answers every key request with status and a Descope error body.
func FailWith(status int) func(http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		writeError(w, status, "E000000", "Injected failure")
		return true
	}
}

// Hang holds every key request until release is closed, then answers 503.
// A caller without its own timeout would wait for as long as the test runs.
// Close release before closing the server: httptest's Close waits for
// handlers.
func Hang(release <-chan struct{}) func(http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		<-release
		writeError(w, http.StatusServiceUnavailable, "E000000", "Released")
		return true
	}
}

// Serve answers every key request with 200 and body as JSON, for garbage,
// empty or oversized key sets.
func Serve(body []byte) func(http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
		return true
	}
}

// RedirectTo answers every key request with a redirect to url.
func RedirectTo(url string) func(http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		w.Header().Set("Location", url)
		w.WriteHeader(http.StatusFound)
		return true
	}
}
