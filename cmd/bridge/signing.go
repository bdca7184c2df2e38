package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// maxKeyFileBytes bounds a service-account key file; real ones are ~2.3 KB.
const maxKeyFileBytes = 64 << 10

// serviceAccountKey is what the bridge reads of a Google credentials file.
type serviceAccountKey struct {
	Type        string `json:"type"`
	ProjectID   string `json:"project_id"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
}

// checkSigning checks the signing settings before the Admin SDK sees them,
// so every problem is one line naming the variable and what is wrong: the
// SDK's own errors ("unexpected end of JSON input") name neither. It also
// fills the project from Google's own variables and the key.
func (c *Config) checkSigning() error {
	if c.GoogleApplicationCredentials != "" && c.FirebaseServiceAccountJSON != "" {
		return errors.New("config: set only one of GOOGLE_APPLICATION_CREDENTIALS and FIREBASE_SERVICE_ACCOUNT_JSON")
	}
	if err := checkEmulatorHost(c.FirebaseAuthEmulatorHost); err != nil {
		return err
	}
	if c.FirebaseProjectID == "" {
		c.FirebaseProjectID = c.GoogleCloudProject
	}
	if c.FirebaseProjectID == "" {
		c.FirebaseProjectID = c.GcloudProject
	}
	var key *serviceAccountKey
	switch {
	case c.FirebaseServiceAccountJSON != "":
		k, err := parseServiceAccountKey("FIREBASE_SERVICE_ACCOUNT_JSON", []byte(c.FirebaseServiceAccountJSON))
		if err != nil {
			return err
		}
		key = k
	case c.GoogleApplicationCredentials != "":
		data, err := readSmallFile(c.GoogleApplicationCredentials, maxKeyFileBytes)
		if err != nil {
			return fmt.Errorf("config: GOOGLE_APPLICATION_CREDENTIALS=%q cannot be read (%w); point it at a service-account key file",
				shorten(c.GoogleApplicationCredentials, 80), err)
		}
		k, err := parseServiceAccountKey("GOOGLE_APPLICATION_CREDENTIALS", data)
		if err != nil {
			return err
		}
		key = k
	}
	if key != nil {
		c.keyAccount = key.ClientEmail
		if c.FirebaseProjectID == "" {
			c.FirebaseProjectID = key.ProjectID
		}
		if key.ProjectID != "" && key.ProjectID != c.FirebaseProjectID && !c.FirebaseKeyOtherProject {
			return fmt.Errorf("config: the service-account key is for project %q but FIREBASE_PROJECT_ID is %q: "+
				"Firebase would refuse every token; fix FIREBASE_PROJECT_ID, use the Firebase project's key, or set "+
				"FIREBASE_KEY_OTHER_PROJECT=true if the key's account is deliberately from another project",
				shorten(key.ProjectID, 64), shorten(c.FirebaseProjectID, 64))
		}
	}
	return nil
}

// parseServiceAccountKey checks a credentials document is a usable
// service-account key. Its error names setting and says what is wrong;
// it never quotes the document, which holds a private key.
func parseServiceAccountKey(setting string, data []byte) (*serviceAccountKey, error) {
	var k serviceAccountKey
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("config: %s is not JSON; it must be a service-account key file's contents "+
			"(IAM > Service accounts > Keys > Add key > JSON), or leave both key settings unset for keyless signing", setting)
	}
	switch k.Type {
	case "service_account":
	case "authorized_user", "external_account", "impersonated_service_account":
		return nil, fmt.Errorf("config: %s holds %q credentials, which cannot sign custom tokens; "+
			"use a service-account key, or unset it for keyless signing (IAM signBlob as the service's account)", setting, k.Type)
	case "":
		return nil, fmt.Errorf("config: %s is not a service-account key (no \"type\": \"service_account\"); "+
			"use a key file from IAM > Service accounts > Keys, or unset it for keyless signing", setting)
	default:
		return nil, fmt.Errorf("config: %s holds credentials of type %q, not a service-account key; "+
			"use a service-account key, or unset it for keyless signing", setting, shorten(k.Type, 40))
	}
	if k.ClientEmail == "" {
		return nil, fmt.Errorf("config: %s is a service-account key without client_email; download the key again", setting)
	}
	if err := checkPrivateKey(k.PrivateKey); err != nil {
		return nil, fmt.Errorf("config: %s has a bad private_key (%w); download the key again", setting, err)
	}
	return &k, nil
}

// checkPrivateKey accepts what the Admin SDK signs with: an RSA key in PEM,
// PKCS#8 (what Google issues) or PKCS#1.
func checkPrivateKey(s string) error {
	if s == "" {
		return errors.New("missing")
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return errors.New("not PEM")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if _, ok := k.(*rsa.PrivateKey); !ok {
			return errors.New("not an RSA key")
		}
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	return errors.New("not a PKCS#8 or PKCS#1 RSA key")
}

// checkEmulatorHost refuses what the Admin SDK would misread: it wants
// host:port, and a scheme or path makes every call fail later.
func checkEmulatorHost(v string) error {
	if v == "" {
		return nil
	}
	if strings.Contains(v, "://") || strings.Contains(v, "/") {
		fix := v
		if _, rest, ok := strings.Cut(v, "://"); ok {
			fix = rest
		}
		fix, _, _ = strings.Cut(fix, "/")
		return fmt.Errorf("config: FIREBASE_AUTH_EMULATOR_HOST=%q must be host:port with no scheme or path; use %q",
			shorten(v, 80), shorten(fix, 80))
	}
	host, port, err := net.SplitHostPort(v)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" || n < 1 || n > 65535 {
		return fmt.Errorf("config: FIREBASE_AUTH_EMULATOR_HOST=%q is not host:port; use e.g. 127.0.0.1:9099", shorten(v, 80))
	}
	return nil
}
