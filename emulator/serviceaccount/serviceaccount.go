// Package serviceaccount makes throwaway Google service-account keys at run
// time, so tests sign real RS256 Firebase custom tokens without any key ever
// being committed.
package serviceaccount

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
)

// Key is a generated service-account key.
type Key struct {
	JSON        []byte
	ClientEmail string
	Private     *rsa.PrivateKey
}

// Generate returns a new RSA-2048 service-account key for projectID in the
// JSON format the Google console downloads.
func Generate(projectID string) (*Key, error) {
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		return nil, fmt.Errorf("encoding key: %w", err)
	}
	email := "bridge-signer@" + projectID + ".iam.gserviceaccount.com"
	doc := map[string]string{
		"type":           "service_account",
		"project_id":     projectID,
		"private_key_id": "0123456789abcdef0123456789abcdef01234567",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   email,
		"client_id":      "100000000000000000001",
		"token_uri":      "http://127.0.0.1:1/token",
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return &Key{JSON: b, ClientEmail: email, Private: pk}, nil
}
