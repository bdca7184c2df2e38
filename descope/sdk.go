package descope

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/descope/go-sdk/descope/client"
	"github.com/descope/go-sdk/descope/logger"
)

// newSDK builds a Descope client whose key requests are answered from keys.
// The SDK fetches its key set on every kid it has not seen, with no limit;
// routing those requests to KeySource makes them free and keeps the SDK's
// view of the keys the same as ours.
func newSDK(projectID, baseURL, managementKey string, keys *KeySource, hc *http.Client) (*client.DescopeClient, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return client.NewWithConfig(&client.Config{
		ProjectID:      projectID,
		DescopeBaseURL: strings.TrimRight(baseURL, "/"),
		ManagementKey:  managementKey,
		DefaultClient:  &sdkTransport{keys: keys, keysPath: "/v2/keys/" + projectID, next: hc},
		LogLevel:       logger.LogNone,
	})
}

// sdkTransport serves the SDK's key-set requests from KeySource and passes
// everything else (management API) to the real client.
type sdkTransport struct {
	keys     *KeySource
	keysPath string
	next     *http.Client
}

func (t *sdkTransport) Do(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, t.keysPath) {
		body := t.keys.JWKS()
		status := http.StatusOK
		if body == nil {
			status, body = http.StatusServiceUnavailable, []byte(`{"errorCode":"E000000","errorDescription":"keys not loaded"}`)
		}
		return &http.Response{
			StatusCode:    status,
			Status:        http.StatusText(status),
			Header:        http.Header{"Content-Type": []string{"application/json"}},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
			Request:       req,
			Proto:         "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		}, nil
	}
	return t.next.Do(req) //nolint:gosec // G704: requests go to DESCOPE_BASE_URL, the operator's setting
}
