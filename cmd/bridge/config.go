package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/descope"
	"github.com/dfbridge/dfbridge/firebase"
	"github.com/dfbridge/dfbridge/flow"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/redisstore"
	"github.com/dfbridge/dfbridge/webhook"
)

// Config is every setting of the service, each part declared by the
// package it configures (with its defaults and checks), under the
// ecosystem's own variable names where they exist.
type Config struct {
	Server    serverConfig
	Descope   descope.Config
	Firebase  firebase.Config
	Exchange  flow.Config
	Edge      httpapi.Config
	Webhook   webhook.Config
	Lifecycle bridge.LifecycleConfig
	Redis     redisstore.Config
	Mapping   mappingConfig

	// mapping is Mapping parsed (parseMapping, after Validate); its source
	// (default, inline, or the file) and a digest of its bytes name it in
	// the start-up log.
	mapping       *bridge.Mapping
	mappingSource string
	mappingDigest string
	// hooks carry the Admin SDK's calls to Google stand-ins. Not read from
	// the environment: tests set them to reach emulator/iamstub.
	hooks firebase.Hooks
	// identityToolkitBase, when set, is where bridge doctor signs in (tests
	// point it at the Auth emulator while signing keylessly).
	identityToolkitBase string
}

// serverConfig is the process's own part: where it listens, how it logs
// and how it stops.
type serverConfig struct {
	// Port to listen on (Cloud Run sets it); 0 picks a free port.
	Port int `envconfig:"PORT"`
	// ListenHost to bind; empty means all interfaces.
	ListenHost string `envconfig:"LISTEN_HOST"`
	// MetricsAddr (host:port) serves GET /metrics on a listener of its own,
	// for a collector beside the service (on Cloud Run only PORT is
	// reachable from outside). Empty means no such listener.
	MetricsAddr string `envconfig:"METRICS_ADDR"`
	// MetricsOnMainPort also serves GET /metrics on PORT. Off by default:
	// the public port should not tell the world the service's traffic.
	MetricsOnMainPort bool `envconfig:"METRICS_ON_MAIN_PORT"`
	// CloudRunService is set by Cloud Run; it only lets start-up warn when
	// TRUSTED_PROXY_HOPS is left at 0 there.
	CloudRunService string `envconfig:"K_SERVICE"`
	// DoctorWaive names doctor checks that may not run in production
	// without failing it (only firebase_accepts_tokens can be waived).
	DoctorWaive []string `envconfig:"DOCTOR_WAIVE"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `envconfig:"LOG_LEVEL"`
	// ShutdownTimeout bounds graceful shutdown, drain included; Cloud Run
	// allows 10s between SIGTERM and SIGKILL.
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT"`
	// ShutdownDrain is how long, after SIGTERM, the server keeps serving
	// with /readyz failing and Connection: close on every answer, so
	// kept-alive clients move off before connections are closed.
	ShutdownDrain time.Duration `envconfig:"SHUTDOWN_DRAIN"`
}

// mappingConfig is where the identity mapping comes from.
type mappingConfig struct {
	// IdentityMapping is the mapping from Descope sessions to Firebase
	// identities: the JSON document itself, or a path to a file holding
	// it. Empty means the default (Descope user ID; roles, permissions,
	// tenants, dct as claims). See docs/mapping.md.
	IdentityMapping string `envconfig:"IDENTITY_MAPPING"`
}

// defaultConfig is the configuration with nothing set, from each part's
// own defaults.
func defaultConfig() Config {
	return Config{
		Server: serverConfig{Port: 8080, LogLevel: "info", ShutdownTimeout: 8 * time.Second,
			ShutdownDrain: 2 * time.Second},
		Descope:   descope.DefaultConfig(),
		Exchange:  flow.DefaultConfig(),
		Edge:      httpapi.DefaultConfig(),
		Webhook:   webhook.DefaultConfig(),
		Lifecycle: bridge.DefaultLifecycleConfig(),
		Redis:     redisstore.DefaultConfig(),
	}
}

// parts are the configuration's parts, in the order they are read and
// checked.
func (c *Config) parts() []any {
	return []any{&c.Server, &c.Descope, &c.Firebase, &c.Exchange, &c.Edge, &c.Webhook, &c.Lifecycle, &c.Redis, &c.Mapping}
}

// writeTimeout is the server's bound on answering one request; everything a
// request may wait on is bounded below it.
const writeTimeout = 15 * time.Second

// loadConfig reads the environment over the defaults, validates it and
// parses the mapping. Its error is one line naming the variable and the fix.
func loadConfig() (*Config, error) {
	c := defaultConfig()
	for _, part := range c.parts() {
		if err := envconfig.Process("", part); err != nil {
			return nil, configError(err)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := c.parseMapping(); err != nil {
		return nil, err
	}
	return &c, nil
}

func configError(err error) error {
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("config: %s=%q is not a valid %s", pe.KeyName, pe.Value, pe.TypeName)
	}
	msg := err.Error()
	if strings.Contains(msg, "required key") {
		return fmt.Errorf("config: %s; set it to your Descope project ID (Project settings in the Descope console)", msg)
	}
	return fmt.Errorf("config: %w", err)
}

// validator is a configuration part that checks itself.
type validator interface{ Validate() error }

// Validate checks every part, then what spans parts. It changes nothing.
func (c *Config) Validate() error {
	for _, part := range c.parts() {
		if v, ok := part.(validator); ok {
			if err := v.Validate(); err != nil {
				return fmt.Errorf("config: %w", err)
			}
		}
	}
	if c.Server.CloudRunService != "" && c.Firebase.AuthEmulatorHost != "" {
		return fmt.Errorf("config: FIREBASE_AUTH_EMULATOR_HOST=%q is set on Cloud Run (K_SERVICE=%s): the bridge would mint unsigned tokens that no real Firebase accepts; unset it",
			bridge.Truncate(c.Firebase.AuthEmulatorHost, 60), bridge.Truncate(c.Server.CloudRunService, 60))
	}
	if c.externalTokenEnabled() && c.Descope.ManagementKey == "" {
		return errors.New("config: the external-token connector resolves permissions from Descope's role table (the user record it sends has roles only) and needs DESCOPE_MANAGEMENT_KEY")
	}
	if c.auditWebhookEnabled() && c.Descope.ManagementKey == "" {
		return errors.New("config: the audit webhook re-reads users from Descope and needs DESCOPE_MANAGEMENT_KEY (a management key from the Descope console)")
	}
	return c.validateMetricsAddr()
}

// Validate checks the server's own settings.
func (s *serverConfig) Validate() error {
	if s.Port < 0 || s.Port > 65535 {
		return fmt.Errorf("PORT=%d is out of range; use 1-65535 (0 picks a free port)", s.Port)
	}
	if _, err := s.slogLevel(); err != nil {
		return err
	}
	if s.ShutdownTimeout <= 0 || s.ShutdownTimeout > 60*time.Second {
		return errors.New("SHUTDOWN_TIMEOUT must be between 1ms and 60s")
	}
	if s.ShutdownDrain < 0 || s.ShutdownDrain >= s.ShutdownTimeout {
		return errors.New("SHUTDOWN_DRAIN must be at least 0s and shorter than SHUTDOWN_TIMEOUT")
	}
	for _, w := range s.DoctorWaive {
		if w != waivableCheck {
			return fmt.Errorf("DOCTOR_WAIVE=%q: only %s can be waived", bridge.Truncate(w, 40), waivableCheck)
		}
	}
	return nil
}

// validateMetricsAddr checks METRICS_ADDR is host:port and not PORT.
func (c *Config) validateMetricsAddr() error {
	s := &c.Server
	if s.MetricsAddr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(s.MetricsAddr)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return fmt.Errorf("config: METRICS_ADDR=%q is not host:port; use e.g. 127.0.0.1:9464", s.MetricsAddr)
	}
	if port == strconv.Itoa(s.Port) && s.Port != 0 && (host == s.ListenHost || host == "" || s.ListenHost == "") {
		return fmt.Errorf("config: METRICS_ADDR=%q is the service's own port; pick another port, or METRICS_ON_MAIN_PORT=true", s.MetricsAddr)
	}
	return nil
}

func (s *serverConfig) slogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s.LogLevel)); err != nil {
		return 0, fmt.Errorf("LOG_LEVEL=%q; use debug, info, warn or error", s.LogLevel)
	}
	return l, nil
}

// traceProject is the project that names traces in log lines.
func (c *Config) traceProject() string {
	if c.Firebase.GoogleCloudProject != "" {
		return c.Firebase.GoogleCloudProject
	}
	return c.Firebase.Project()
}

func (c *Config) externalTokenEnabled() bool { return c.Webhook.ExternalTokenSecrets().Enabled() }

func (c *Config) auditWebhookEnabled() bool { return c.Webhook.AuditSecrets().Enabled() }
