package iamstub

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const account = "signer@demo-x.iam.gserviceaccount.com"

func start(t *testing.T, opts Options) (*Stub, *httptest.Server) {
	t.Helper()
	s, err := New(opts)
	require.NoError(t, err)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

func get(t *testing.T, url string, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func signBlob(t *testing.T, url, bearer, email string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/projects/-/serviceAccounts/"+email+":signBlob", bytes.NewReader(body))
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func accessToken(t *testing.T, url string) string {
	t.Helper()
	status, b := get(t, url+"/computeMetadata/v1/instance/service-accounts/default/token", map[string]string{"Metadata-Flavor": "Google"})
	require.Equal(t, http.StatusOK, status)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(b, &tok))
	require.NotEmpty(t, tok.AccessToken)
	return tok.AccessToken
}

func TestMetadataServerAnswersOnlyWithItsHeader(t *testing.T) {
	_, ts := start(t, Options{Email: account, ProjectID: "demo-x"})
	cases := []struct {
		name   string
		path   string
		header map[string]string
		status int
		body   string
	}{
		{"the default account's email is served", "/computeMetadata/v1/instance/service-accounts/default/email", map[string]string{"Metadata-Flavor": "Google"}, 200, account},
		{"the account is also reachable by its email", "/computeMetadata/v1/instance/service-accounts/" + account + "/email", map[string]string{"Metadata-Flavor": "Google"}, 200, account},
		{"the project ID is served", "/computeMetadata/v1/project/project-id", map[string]string{"Metadata-Flavor": "Google"}, 200, "demo-x"},
		{"a request without Metadata-Flavor is refused", "/computeMetadata/v1/instance/service-accounts/default/email", nil, 403, ""},
		{"another account is not found", "/computeMetadata/v1/instance/service-accounts/other@x.iam.gserviceaccount.com/email", map[string]string{"Metadata-Flavor": "Google"}, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := get(t, ts.URL+c.path, c.header)
			assert.Equal(t, c.status, status)
			if c.body != "" {
				assert.Equal(t, c.body, string(body))
			}
		})
	}
}

func TestSignBlobSignsOnlyForItsOwnTokenAndAccount(t *testing.T) {
	payload := []byte("header.payload")
	good, _ := json.Marshal(map[string]string{"payload": base64.StdEncoding.EncodeToString(payload)})
	cases := []struct {
		name   string
		opts   Options
		bearer func(t *testing.T, url string) string
		email  string
		body   []byte
		status int
		reason string
	}{
		{"a token the metadata server issued signs", Options{}, accessToken, account, good, 200, ""},
		{"a missing token is unauthenticated", Options{}, func(*testing.T, string) string { return "" }, account, good, 401, "UNAUTHENTICATED"},
		{"a token it never issued is unauthenticated", Options{}, func(*testing.T, string) string { return "ya29.forged" }, account, good, 401, "UNAUTHENTICATED"},
		{"another account is denied", Options{}, accessToken, "other@demo-x.iam.gserviceaccount.com", good, 403, "PERMISSION_DENIED"},
		{"an account without the Token Creator grant is denied", Options{Denied: true}, accessToken, account, good, 403, "PERMISSION_DENIED"},
		{"a payload that is not base64 is invalid", Options{}, accessToken, account, []byte(`{"payload":"%%%"}`), 400, "INVALID_ARGUMENT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Email, c.opts.ProjectID = account, "demo-x"
			s, ts := start(t, c.opts)
			status, out := signBlob(t, ts.URL, c.bearer(t, ts.URL), c.email, c.body)
			require.Equal(t, c.status, status, "answer: %v", out)
			if c.reason != "" {
				e, _ := out["error"].(map[string]any)
				assert.Equal(t, c.reason, e["status"])
				assert.Zero(t, s.Calls().SignBlobs)
				return
			}
			sig, err := base64.StdEncoding.DecodeString(out["signedBlob"].(string))
			require.NoError(t, err)
			sum := sha256.Sum256(payload)
			assert.NoError(t, rsa.VerifyPKCS1v15(s.PublicKey(), crypto.SHA256, sum[:], sig))
			assert.NotEmpty(t, out["keyId"])
			assert.Equal(t, 1, s.Calls().SignBlobs)
		})
	}
}

func TestTransportReachesOnlyTheStandIn(t *testing.T) {
	_, ts := start(t, Options{Email: account, ProjectID: "demo-x"})
	rt, err := Transport(ts.URL)
	require.NoError(t, err)
	client := &http.Client{Transport: rt}

	resp, err := client.Post("https://"+Host+"/v1/projects/-/serviceAccounts/"+account+":signBlob", "application/json", bytes.NewReader([]byte(`{}`)))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the IAM host is answered by the stand-in")

	for _, u := range []string{"https://oauth2.googleapis.com/token", "https://identitytoolkit.googleapis.com/v1/accounts:lookup", "http://metadata.google.internal/"} {
		_, err := client.Get(u)
		assert.ErrorContains(t, err, "refusing a request", "%s must not be reached", u)
	}
}

// Signing once (the load benchmark's stand-in) answers every payload with
// one valid-length signature, which verifies for none of them; by default
// each payload gets its own, which verifies.
func TestSignOnceAnswersOneSignatureForEveryPayload(t *testing.T) {
	for _, once := range []bool{false, true} {
		s, ts := start(t, Options{Email: account, ProjectID: "demo-x", SignOnce: once})
		tok := accessToken(t, ts.URL)
		var sigs [][]byte
		for _, p := range []string{"first.payload", "second.payload"} {
			body, _ := json.Marshal(map[string]string{"payload": base64.StdEncoding.EncodeToString([]byte(p))})
			status, out := signBlob(t, ts.URL, tok, account, body)
			require.Equal(t, http.StatusOK, status, "%v", out)
			sig, err := base64.StdEncoding.DecodeString(out["signedBlob"].(string))
			require.NoError(t, err)
			require.Len(t, sig, 256)
			sum := sha256.Sum256([]byte(p))
			if once {
				assert.Error(t, rsa.VerifyPKCS1v15(s.PublicKey(), crypto.SHA256, sum[:], sig))
			} else {
				assert.NoError(t, rsa.VerifyPKCS1v15(s.PublicKey(), crypto.SHA256, sum[:], sig))
			}
			sigs = append(sigs, sig)
		}
		assert.Equal(t, once, bytes.Equal(sigs[0], sigs[1]), "signed once: %v", once)
	}
}
