package firebase

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/option"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/internal/smallfile"
)

// Config is the Firebase part of the service's configuration: the project,
// and how custom tokens are signed (a key file, the key itself, keyless
// IAM signing, or the Auth emulator). Names are Google's own where it has
// them. Nothing here has a default: unset means keyless signing as the
// service's own account.
type Config struct {
	// ProjectID is the Firebase project. Unset, it is GOOGLE_CLOUD_PROJECT,
	// then GCLOUD_PROJECT (as the Admin SDK reads them), then the key's
	// project_id (see Project); required for the emulator and keyless
	// signing.
	ProjectID string `envconfig:"FIREBASE_PROJECT_ID"`
	// KeyOtherProject allows a key whose project_id is not ProjectID: a
	// service account of another project granted the right to sign for
	// this one. Unset, such a key stops start-up.
	KeyOtherProject bool `envconfig:"FIREBASE_KEY_OTHER_PROJECT"`
	// WebAPIKey is the project's Web API key (a public identifier, not a
	// secret); only bridge doctor uses it, to prove Firebase accepts the
	// minted tokens.
	WebAPIKey string `envconfig:"FIREBASE_WEB_API_KEY"`
	// GoogleCloudProject is the project the service runs in; it also
	// names traces in the logs.
	GoogleCloudProject string `envconfig:"GOOGLE_CLOUD_PROJECT"`
	// GcloudProject is the older name gcloud and the Admin SDK also read.
	GcloudProject string `envconfig:"GCLOUD_PROJECT"`
	// CredentialsFile is a service-account key file path.
	CredentialsFile string `envconfig:"GOOGLE_APPLICATION_CREDENTIALS"`
	// ServiceAccountJSON is the key itself, for Secret Manager users who
	// mount it as an environment variable.
	ServiceAccountJSON string `envconfig:"FIREBASE_SERVICE_ACCOUNT_JSON"`
	// ServiceAccountEmail is who keyless signing signs as; unset, it is
	// asked of the metadata server once at start.
	ServiceAccountEmail string `envconfig:"FIREBASE_SERVICE_ACCOUNT_EMAIL"`
	// AuthEmulatorHost (host:port) makes the bridge mint emulator tokens
	// and manage emulator users. Never set in production.
	AuthEmulatorHost string `envconfig:"FIREBASE_AUTH_EMULATOR_HOST"`
}

// maxKeyFileBytes bounds a service-account key file; real ones are ~2.3 KB.
const maxKeyFileBytes = 64 << 10

// serviceAccountKey is what the bridge reads of a Google credentials file.
type serviceAccountKey struct {
	Type        string `json:"type"`
	ProjectID   string `json:"project_id"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
}

// Validate checks the signing settings before the Admin SDK sees them, so
// every problem is one line naming the variable and what is wrong: the
// SDK's own errors ("unexpected end of JSON input") name neither.
func (c *Config) Validate() error {
	if c.CredentialsFile != "" && c.ServiceAccountJSON != "" {
		return errors.New("set only one of GOOGLE_APPLICATION_CREDENTIALS and FIREBASE_SERVICE_ACCOUNT_JSON")
	}
	if err := checkEmulatorHost(c.AuthEmulatorHost); err != nil {
		return err
	}
	key, err := c.key()
	if err != nil {
		return err
	}
	project := c.Project()
	if key != nil && key.ProjectID != "" && key.ProjectID != project && !c.KeyOtherProject {
		return fmt.Errorf("the service-account key is for project %q but FIREBASE_PROJECT_ID is %q: "+
			"Firebase would refuse every token; fix FIREBASE_PROJECT_ID, use the Firebase project's key, or set "+
			"FIREBASE_KEY_OTHER_PROJECT=true if the key's account is deliberately from another project",
			bridge.Truncate(key.ProjectID, 64), bridge.Truncate(project, 64))
	}
	if (c.AuthEmulatorHost != "" || c.Keyless()) && project == "" {
		return errors.New("FIREBASE_PROJECT_ID (or GOOGLE_CLOUD_PROJECT) is required with the Auth emulator or keyless signing")
	}
	return nil
}

// Keyless reports whether tokens are signed by IAM as the service's
// account, with no key at hand.
func (c *Config) Keyless() bool { return c.CredentialsFile == "" && c.ServiceAccountJSON == "" }

// Project is the Firebase project: FIREBASE_PROJECT_ID, else Google's own
// variables, else the key's project_id.
func (c *Config) Project() string {
	for _, p := range []string{c.ProjectID, c.GoogleCloudProject, c.GcloudProject} {
		if p != "" {
			return p
		}
	}
	if key, err := c.key(); err == nil && key != nil {
		return key.ProjectID
	}
	return ""
}

// KeyAccount is the key's client_email, or "" when signing is keyless.
func (c *Config) KeyAccount() string {
	if key, err := c.key(); err == nil && key != nil {
		return key.ClientEmail
	}
	return ""
}

// key reads and checks the configured key; nil when there is none.
func (c *Config) key() (*serviceAccountKey, error) {
	switch {
	case c.ServiceAccountJSON != "":
		return parseServiceAccountKey("FIREBASE_SERVICE_ACCOUNT_JSON", []byte(c.ServiceAccountJSON))
	case c.CredentialsFile != "":
		data, err := smallfile.Read(c.CredentialsFile, maxKeyFileBytes)
		if err != nil {
			return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS=%q cannot be read (%w); point it at a service-account key file",
				bridge.Truncate(c.CredentialsFile, 80), err)
		}
		return parseServiceAccountKey("GOOGLE_APPLICATION_CREDENTIALS", data)
	}
	return nil, nil
}

// Hooks carry what the environment cannot: client options and an IAM
// transport that reach Google stand-ins in tests, and the observer of
// keyless signing's signBlob calls.
type Hooks struct {
	Options []option.ClientOption
	IAMBase http.RoundTripper
	Observe func(outcome string, took time.Duration)
}

// NewClient builds the Admin SDK client the settings describe. The server,
// `bridge reconcile` and `bridge doctor` all build it here.
func (c *Config) NewClient(ctx context.Context, h Hooks) (*Client, error) {
	if c.AuthEmulatorHost != "" {
		// The Admin SDK takes emulator mode from the environment only.
		if err := os.Setenv("FIREBASE_AUTH_EMULATOR_HOST", c.AuthEmulatorHost); err != nil {
			return nil, fmt.Errorf("setting emulator host: %w", err)
		}
	}
	fbc, err := New(ctx, ClientConfig{
		ProjectID:           c.Project(),
		CredentialsJSON:     []byte(c.ServiceAccountJSON),
		CredentialsFile:     c.CredentialsFile,
		ServiceAccountEmail: c.ServiceAccountEmail,
		EmulatorHost:        c.AuthEmulatorHost,
		Options:             h.Options,
		IAM:                 IAMOptions{Base: h.IAMBase, Observe: h.Observe},
	})
	if err != nil {
		return nil, fmt.Errorf("building firebase client: %w", err)
	}
	return fbc, nil
}

// parseServiceAccountKey checks a credentials document is a usable
// service-account key. Its error names setting and says what is wrong;
// it never quotes the document, which holds a private key.
func parseServiceAccountKey(setting string, data []byte) (*serviceAccountKey, error) {
	var k serviceAccountKey
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("%s is not JSON; it must be a service-account key file's contents "+
			"(IAM > Service accounts > Keys > Add key > JSON), or leave both key settings unset for keyless signing", setting)
	}
	switch k.Type {
	case "service_account":
	case "authorized_user", "external_account", "impersonated_service_account":
		return nil, fmt.Errorf("%s holds %q credentials, which cannot sign custom tokens; "+
			"use a service-account key, or unset it for keyless signing (IAM signBlob as the service's account)", setting, k.Type)
	case "":
		return nil, fmt.Errorf("%s is not a service-account key (no \"type\": \"service_account\"); "+
			"use a key file from IAM > Service accounts > Keys, or unset it for keyless signing", setting)
	default:
		return nil, fmt.Errorf("%s holds credentials of type %q, not a service-account key; "+
			"use a service-account key, or unset it for keyless signing", setting, bridge.Truncate(k.Type, 40))
	}
	if k.ClientEmail == "" {
		return nil, fmt.Errorf("%s is a service-account key without client_email; download the key again", setting)
	}
	if err := checkPrivateKey(k.PrivateKey); err != nil {
		return nil, fmt.Errorf("%s has a bad private_key (%w); download the key again", setting, err)
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
		return fmt.Errorf("FIREBASE_AUTH_EMULATOR_HOST=%q must be host:port with no scheme or path; use %q",
			bridge.Truncate(v, 80), bridge.Truncate(fix, 80))
	}
	host, port, err := net.SplitHostPort(v)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" || n < 1 || n > 65535 {
		return fmt.Errorf("FIREBASE_AUTH_EMULATOR_HOST=%q is not host:port; use e.g. 127.0.0.1:9099", bridge.Truncate(v, 80))
	}
	return nil
}
