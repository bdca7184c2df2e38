package bench

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/flow"
)

// setup starts a stand-in, assembles the pipeline and mints sessions.
func setup(b *testing.B, users int) (*StandIn, *Pipeline, []string) {
	b.Helper()
	s, err := NewStandIn()
	require.NoError(b, err)
	b.Cleanup(s.Close)
	p, err := NewPipeline(context.Background(), s)
	require.NoError(b, err)
	sessions, err := s.Sessions(users)
	require.NoError(b, err)
	return s, p, sessions
}

// BenchmarkRSASign is the ceiling: one RSA-2048 PKCS#1 v1.5 signature, as
// the Admin SDK makes for every custom token.
func BenchmarkRSASign(b *testing.B) {
	s, err := NewStandIn()
	require.NoError(b, err)
	defer s.Close()
	key := s.SA.Private
	sum := sha256.Sum256([]byte("header.payload"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	_, p, sessions := setup(b, 64)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := p.Verifier.Verify(ctx, sessions[i%len(sessions)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMap(b *testing.B) {
	_, p, sessions := setup(b, 1)
	sess, err := p.Verifier.Verify(context.Background(), sessions[0])
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Mapping.Map(sess); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMint(b *testing.B) {
	_, p, sessions := setup(b, 1)
	ctx := context.Background()
	sess, err := p.Verifier.Verify(ctx, sessions[0])
	require.NoError(b, err)
	id, err := p.Mapping.Map(sess)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Minter.Mint(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMintSelf mints the token BenchmarkMint mints without the Admin
// SDK: Firebase's documented custom-token JWT (RS256; iss and sub the
// service account, aud the Identity Toolkit, iat, exp an hour on, uid,
// claims) signed with the same key, to measure what the SDK adds beyond
// the signature.
func BenchmarkMintSelf(b *testing.B) {
	s, p, sessions := setup(b, 1)
	sess, err := p.Verifier.Verify(context.Background(), sessions[0])
	require.NoError(b, err)
	id, err := p.Mapping.Map(sess)
	require.NoError(b, err)
	key := s.SA.Private
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	type payload struct {
		Iss    string         `json:"iss"`
		Sub    string         `json:"sub"`
		Aud    string         `json:"aud"`
		Iat    int64          `json:"iat"`
		Exp    int64          `json:"exp"`
		UID    string         `json:"uid"`
		Claims map[string]any `json:"claims,omitempty"`
	}
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now().Unix()
		body, err := json.Marshal(payload{Iss: s.SA.ClientEmail, Sub: s.SA.ClientEmail,
			Aud: "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit",
			Iat: now, Exp: now + 3600, UID: id.UID, Claims: id.Claims})
		if err != nil {
			b.Fatal(err)
		}
		signing := header + "." + base64.RawURLEncoding.EncodeToString(body)
		sum := sha256.Sum256([]byte(signing))
		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
		if err != nil {
			b.Fatal(err)
		}
		_ = signing + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
}

func BenchmarkExchange(b *testing.B) {
	_, p, sessions := setup(b, 64)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := p.Exchanger.Exchange(ctx, sessions[i%len(sessions)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandler is the whole POST /exchange handler, logging included,
// run in parallel on every core as the server runs it.
func BenchmarkHandler(b *testing.B) {
	_, p, sessions := setup(b, 64)
	h := p.Handler(io.Discard, p.Exchanger)
	benchHandler(b, h, sessions)
}

func benchHandler(b *testing.B, h http.Handler, sessions []string) {
	b.Helper()
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tok := sessions[int(n.Add(1))%len(sessions)]
			req := httptest.NewRequest(http.MethodPost, "/exchange", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkRSAVerify is the floor of verification: one RSA-2048 PKCS#1 v1.5
// check of a session's signature with the key already parsed.
func BenchmarkRSAVerify(b *testing.B) {
	s, _, sessions := setup(b, 1)
	key := &s.Stub.SigningKey().Private.PublicKey
	tok := sessions[0]
	dot := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		sum := sha256.Sum256([]byte(tok[:dot]))
		if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandlerCached is POST /exchange for sessions already exchanged:
// the repeat-exchange cache answers without a signature.
func BenchmarkHandlerCached(b *testing.B) {
	_, p, sessions := setup(b, 64)
	cache, err := flow.NewExchangeCache(p.Exchanger, flow.CacheConfig{Size: 1024, TTL: 5 * time.Minute, Observe: p.Metrics.CacheLookup})
	require.NoError(b, err)
	for _, s := range sessions {
		_, err := cache.Exchange(context.Background(), s)
		require.NoError(b, err)
	}
	benchHandler(b, p.Handler(io.Discard, cache), sessions)
}
