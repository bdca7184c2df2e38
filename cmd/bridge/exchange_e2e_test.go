package main

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/authemu"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/serviceaccount"
)

// A Descope session becomes a Firebase session: the bridge's custom token
// signs in to the real Auth emulator, and the ID token it yields names the
// Descope user and carries the mapped claims. Both request forms work.
func TestExchangeSignsInToAuthEmulator(t *testing.T) {
	t.Parallel()
	emu := authemu.ForTest(t)
	s := startStack(t, emu.Host, nil, nil)

	forms := map[string]func(*testing.T, string) apiResponse{
		"bearer header": s.exchangeBearer,
		"json body":     s.exchangeBody,
	}
	for name, exchange := range forms {
		t.Run(name, func(t *testing.T) {
			userID := "U" + strings.ReplaceAll(name, " ", "") + time.Now().Format("150405.000000")
			tok := s.session(t, descopestub.Session{
				UserID:        userID,
				Roles:         []string{"admin", "editor"},
				Permissions:   []string{"docs.write"},
				Tenants:       map[string]descopestub.TenantRoles{"T1": {Roles: []string{"owner"}, Permissions: []string{"billing.read"}}},
				CurrentTenant: "T1",
			})
			resp := exchange(t, tok)
			require.Equal(t, 200, resp.Status, "body: %s", resp.Body)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			body := resp.json(t)
			assert.Equal(t, userID, body["uid"])
			custom, _ := body["externalToken"].(string)
			require.NotEmpty(t, custom)

			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			signed, err := emu.SignInWithCustomToken(ctx, custom, "")
			require.NoError(t, err)
			claims, err := authemu.Claims(signed.IDToken)
			require.NoError(t, err)
			assert.Equal(t, userID, claims["sub"])
			assert.Equal(t, userID, claims["user_id"])
			assert.Equal(t, []any{"admin", "editor"}, claims["roles"])
			assert.Equal(t, []any{"docs.write"}, claims["permissions"])
			assert.Equal(t, map[string]any{"T1": map[string]any{"roles": []any{"owner"}, "permissions": []any{"billing.read"}}}, claims["tenants"])
			assert.Equal(t, "T1", claims["dct"])
			// The custom token's expiry is an hour out, as Firebase fixes it.
			exp, _ := body["expiresAt"].(float64)
			assert.InDelta(t, float64(time.Now().Add(time.Hour).Unix()), exp, 30)
			// The log names the exchange by the token's hash, never the token.
			assert.Contains(t, s.logs.String(), `"message":"exchange"`)
			assert.NotContains(t, s.logs.String(), tok)
			assert.NotContains(t, s.logs.String(), custom)
		})
	}
}

// With a service-account key, the custom token is a real RS256 JWT that
// verifies against the key's public half and has exactly Firebase's shape.
func TestExchangeSignsWithServiceAccountKey(t *testing.T) {
	t.Parallel()
	sa, err := serviceaccount.Generate("demo-dfbridge")
	require.NoError(t, err)
	s := startStack(t, "", sa, nil)

	tok := s.session(t, descopestub.Session{UserID: "U2keyfile", Roles: []string{"viewer"}})
	resp := s.exchangeBearer(t, tok)
	require.Equal(t, 200, resp.Status, "body: %s", resp.Body)
	body := resp.json(t)
	custom := body["externalToken"].(string)

	claims := verifyCustomToken(t, custom, &sa.Private.PublicKey)
	assert.Equal(t, sa.ClientEmail, claims.Iss)
	assert.Equal(t, sa.ClientEmail, claims.Sub)
	assert.Equal(t, "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit", claims.Aud)
	assert.Equal(t, "U2keyfile", claims.UID)
	assert.Equal(t, int64(3600), claims.Exp-claims.Iat)
	assert.Equal(t, float64(claims.Exp), body["expiresAt"])
	assert.Equal(t, []any{"viewer"}, claims.Claims["roles"])
}

// customTokenClaims is the payload of a Firebase custom token.
type customTokenClaims struct {
	Iss    string         `json:"iss"`
	Sub    string         `json:"sub"`
	Aud    string         `json:"aud"`
	UID    string         `json:"uid"`
	Iat    int64          `json:"iat"`
	Exp    int64          `json:"exp"`
	Claims map[string]any `json:"claims"`
}

// verifyCustomToken checks that token is an RS256 JWT whose signature
// verifies with pub, and returns its claims.
func verifyCustomToken(t *testing.T, token string, pub *rsa.PublicKey) customTokenClaims {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	var header map[string]any
	decodeSegment(t, parts[0], &header)
	assert.Equal(t, "RS256", header["alg"])

	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig),
		"custom token must verify with the signer's public key")
	var claims customTokenClaims
	decodeSegment(t, parts[1], &claims)
	return claims
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

// Descope's OIDC access tokens (an Expo app's, through expo-auth-session)
// are sessions too; with DESCOPE_ALLOWED_AUDIENCES set, one issued to
// another application of the project is refused with 401 wrong_audience.
func TestAllowedAudiencesRefuseAnotherApplicationsToken(t *testing.T) {
	t.Parallel()
	emu := authemu.ForTest(t)
	s := startStack(t, emu.Host, nil, map[string]string{"DESCOPE_ALLOWED_AUDIENCES": "app-mobile, app-web"})
	access := func(aud string) string {
		return s.session(t, descopestub.Session{UserID: "U2oidc", Extra: map[string]any{
			"iss": "https://api.descope.com/" + testProject, "aud": aud, "azp": aud, "scope": "openid profile email"}})
	}
	resp := s.exchangeBearer(t, access("app-mobile"))
	assert.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	resp = s.exchangeBearer(t, access("app-partner"))
	assert.Equal(t, http.StatusUnauthorized, resp.Status)
	assert.Equal(t, "wrong_audience", resp.errorCode(t))
	t.Logf("refused: %d %s", resp.Status, resp.Body)
}
