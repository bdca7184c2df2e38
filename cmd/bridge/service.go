package main

import (
	"context"

	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/descope"
	"github.com/dfbridge/dfbridge/firebase"
	"github.com/dfbridge/dfbridge/flow"
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/metrics"
	"github.com/dfbridge/dfbridge/ratelimit"
	"github.com/dfbridge/dfbridge/redisstore"
	"github.com/dfbridge/dfbridge/webhook"
)

// service is the running bridge: what serve, warmUp and shutdown use.
// It is built by newService from a core and holds runtime state only.
type service struct {
	cfg      *Config
	log      *slog.Logger
	metrics  *metrics.Metrics
	keys     *descope.KeySource
	firebase *firebase.Client
	signer   *readiness
	handler  http.Handler
	// metricsHandler serves the METRICS_ADDR listener, when configured.
	metricsHandler http.Handler
	// ready is closed once the listeners are bound (tests wait on it).
	ready       chan struct{}
	addr        string
	metricsAddr string
	// roles is Descope's role table, nil without a management key; warmUp
	// keeps it fresh.
	roles *descope.Roles
	// draining is set on SIGTERM: /readyz fails and answers close their
	// connections (see shutdown).
	draining *atomic.Bool
	// lifecycle is background lifecycle sync, nil without the audit route.
	lifecycle *lifecycle
	// rdb is the shared state's Redis, nil without REDIS_URL.
	rdb *redis.Client
}

// admissionMaxWait is the longest an exchange waits for its turn before
// it is answered 503 busy: well past any queue a healthy instance builds,
// and well inside a client's patience.
const admissionMaxWait = 5 * time.Second

// startCores is the cores the process may use, as the runtime found them
// at start (the CPU limit of the container, or the machine's).
var startCores = runtime.GOMAXPROCS(0)

// newService assembles the server: the core, the exchange path in front
// of it, the webhook routes and lifecycle sync, and the routes.
func newService(ctx context.Context, cfg *Config, stdout io.Writer) (*service, error) {
	level, _ := cfg.Server.slogLevel()
	log := httpapi.NewLogger(stdout, level)
	for _, miss := range nearMisses(os.Environ()) {
		log.Warn("environment variable ignored: "+miss, "fix", "rename it; bridge doctor fails on it")
	}
	m := metrics.New()
	c, err := buildCore(ctx, cfg, log, m)
	if err != nil {
		return nil, err
	}
	logSigning(cfg, log, c.firebase)
	rdb, err := openRedis(cfg, log)
	if err != nil {
		return nil, err
	}
	p, err := buildExchangePath(cfg, log, m, c, rdb)
	if err != nil {
		return nil, err
	}
	s := &service{cfg: cfg, log: log, metrics: m, keys: c.keys, firebase: c.firebase, signer: &readiness{},
		ready: make(chan struct{}), draining: &atomic.Bool{}, roles: c.roles, rdb: rdb}
	// Every exchange's result passes the removed-user gate, however it was
	// reached (fresh, cached, connector).
	gate := &flow.RemovalGate{Removed: newRemoved(rdb, log, m)}
	if cfg.auditWebhookEnabled() {
		s.lifecycle = newLifecycle(c, log, m, p.cache, rdb, gate.Removed)
		gate.Adopt = s.lifecycle.adopt
	}
	deps := s.routeDeps(m, gate.Gate(p.outer))
	// Each webhook route has its own body budget, so audit floods never
	// delay the connector, which is on the sign-in path.
	guard := func(budget int64) *webhook.Guard {
		return webhook.NewGuard(webhook.GuardConfig{Budget: budget,
			RefusalsPerMinute: cfg.Webhook.RefusalsPerMinute, TrustedProxies: cfg.Edge.TrustedProxyHops})
	}
	// The connector's exchanges queue in arrival order with /exchange
	// when signing is local; they carry no token to cache.
	deps.externalToken = externalTokenHandler(c, log, m, gate, guard(webhook.DefaultConnectorBudget), gate.Gate(p.inner))
	deps.audit = auditHandler(cfg, log, m, guard(webhook.DefaultBodyBudget), s.lifecycle)
	s.handler = addRoutes(deps)
	if cfg.Server.MetricsAddr != "" {
		s.metricsHandler = metricsRoutes(deps)
	}
	if cfg.Server.CloudRunService != "" && cfg.Edge.TrustedProxyHops == 0 && cfg.Edge.RateLimitIPPerMinute > 0 {
		log.Warn("on Cloud Run with TRUSTED_PROXY_HOPS=0: every request comes from the front end's address, " +
			"so the per-address limit is shared by all clients; set TRUSTED_PROXY_HOPS=1")
	}
	return s, nil
}

// logSigning says at start how custom tokens are signed, and as whom.
func logSigning(cfg *Config, log *slog.Logger, fbc *firebase.Client) {
	if cfg.Firebase.AuthEmulatorHost != "" {
		log.Warn("minting unsigned Auth emulator tokens; never do this in production",
			"emulator", cfg.Firebase.AuthEmulatorHost)
	}
	account := fbc.Account()
	if account == "" {
		account = cfg.Firebase.KeyAccount()
	}
	log.Info("signing firebase custom tokens", "mode", fbc.Mode(), "account", account,
		"firebase_project", cfg.Firebase.Project())
}

// exchangePath is the use case with the flow machinery in front of it:
// inner is the exchange in arrival order (admission, when signing is
// local), outer adds the repeat cache (nil when off).
type exchangePath struct {
	inner, outer bridge.Exchanger
	cache        *flow.ExchangeCache
}

// buildExchangePath puts the limits, the permission resolution, the sign
// queue, admission and the cache around the core's exchange. It sets the
// exchange's verifier and minter to their wrapped forms.
func buildExchangePath(cfg *Config, log *slog.Logger, m *metrics.Metrics, c *core, rdb *redis.Client) (exchangePath, error) {
	x := c.exchange
	x.Verifier = limitedSessions(cfg, log, m, c, rdb)
	keyFile := c.firebase.Mode() == firebase.ModeKey
	var p exchangePath
	p.inner = x
	if keyFile {
		cores := signingCores()
		q, err := flow.NewSignQueue(x.Minter, cores)
		if err != nil {
			return p, fmt.Errorf("building sign queue: %w", err)
		}
		x.Minter = q
		// With a key file the whole exchange is CPU work: admit it in
		// arrival order, a few per core, so queueing happens in one FIFO
		// place rather than across the scheduler. Cache hits are not
		// queued: the cache sits in front.
		admit, err := flow.NewAdmission(x, flow.AdmissionConfig{
			InFlight: cfg.Exchange.InFlightPerCore * cores,
			MaxQueue: cfg.Exchange.QueueMax, MaxWait: admissionMaxWait,
		})
		if err != nil {
			return p, fmt.Errorf("building admission queue: %w", err)
		}
		admit.Observe = m.AdmissionWait
		p.inner = admit
	}
	p.outer = p.inner
	if cfg.Exchange.CacheSize > 0 {
		cache, err := flow.NewExchangeCache(p.inner, flow.CacheConfig{
			Size: cfg.Exchange.CacheSize, TTL: cfg.Exchange.CacheTTL, Observe: m.CacheLookup,
		})
		if err != nil {
			return p, fmt.Errorf("building exchange cache: %w", err)
		}
		// A change in Descope's key set purges the cache, so a removed
		// key's sessions stop being served from memory.
		c.keys.OnChange(cache.Purge)
		p.cache, p.outer = cache, cache
	}
	return p, nil
}

// signingCores is the cores local signing is held to. Signing keeps every
// core's scheduler busy, and Go reads the network only when a scheduler
// is idle or every 10 ms: arrivals would queue unseen in the sockets, in
// no order. One scheduler more than the cores, with signing held to the
// cores, stays free to read each request as it arrives and queue it in
// arrival order. (An operator's GOMAXPROCS is left alone.)
func signingCores() int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(startCores + 1)
	}
	return startCores
}

// limitedSessions is the verifier behind /exchange: the per-user limit (or
// both limits shared through Redis) and, when asked, permissions resolved
// from Descope's role table.
func limitedSessions(cfg *Config, log *slog.Logger, m *metrics.Metrics, c *core, rdb *redis.Client) bridge.Verifier {
	edge := cfg.Edge
	userLimit := ratelimit.New(edge.RateLimitUserPerMinute, edge.RateLimitUserBurst)
	sessions := flow.LimitUsers(c.verifier, userLimit)
	if rdb != nil {
		// Both limits are shared by every instance, checked together in
		// one round trip once the user is known; the per-address limit
		// also runs per instance before verification, as a cheap shield.
		limits := redisstore.NewLimits(rdb, edge.RateLimitIPPerMinute, edge.RateLimitIPBurst,
			edge.RateLimitUserPerMinute, edge.RateLimitUserBurst)
		limits.Fallback, limits.Log, limits.Metrics = userLimit, log, m
		sessions = flow.LimitExchanges(c.verifier, limits)
		log.Info("shared state in redis: exchange limits, audit-event memory, lifecycle queue",
			"addr", rdb.Options().Addr, "tls", rdb.Options().TLSConfig != nil, "pool", rdb.Options().PoolSize)
	}
	if cfg.Descope.ResolvePermissions {
		// The role table resolves permissions where a session carries
		// roles only (Validate requires the management key).
		var access bridge.AccessResolver = c.roles
		if cfg.Descope.AuthSchema == descope.SchemaNone {
			// The token names no roles: read them from the user's record.
			access = c.roles.WithUserRoles(descope.NewUsers(c.verifier.SDK()))
		}
		sessions = bridge.ResolvingVerifier{Verifier: sessions, Access: access}
	}
	log.Info("descope sessions", "auth_schema", string(cfg.Descope.AuthSchema), "resolve_permissions", cfg.Descope.ResolvePermissions)
	log.Info("identity mapping", "source", cfg.mappingSource, "sha256", cfg.mappingDigest,
		"uid_from", cfg.mapping.UIDSource(), "tenants", len(cfg.mapping.FirebaseTenants()))
	if mc := c.exchange.Mapping.Migration(); mc != nil {
		log.Info("migration mode: existing Firebase accounts keep their UIDs", "settings", mc.String())
	}
	return sessions
}

// routeDeps are the routes' dependencies but the webhook handlers.
func (s *service) routeDeps(m *metrics.Metrics, exchanger bridge.Exchanger) routeDeps {
	cfg := s.cfg
	deps := routeDeps{
		log:       s.log,
		metrics:   m,
		exchanger: exchanger,
		traceProj: cfg.traceProject(),
		readiness: []httpapi.ReadinessCheck{
			{Name: "descope_keys", Check: func(context.Context) error { return s.keys.Ready() }},
			{Name: "firebase_signer", Check: func(context.Context) error { return s.signer.get() }},
			{Name: "shutting_down", Check: func(context.Context) error {
				if s.draining.Load() {
					return errDraining
				}
				return nil
			}},
		},
		draining:       s.draining,
		serveMetrics:   cfg.Server.MetricsOnMainPort,
		corsOrigins:    cfg.Edge.Origins(),
		clientLimit:    ratelimit.New(cfg.Edge.RateLimitIPPerMinute, cfg.Edge.RateLimitIPBurst),
		trustedProxies: cfg.Edge.TrustedProxyHops,
	}
	if s.rdb != nil {
		rdb := s.rdb
		deps.readiness = append(deps.readiness, httpapi.ReadinessCheck{Name: "redis", Degraded: true,
			Check: func(ctx context.Context) error { return redisstore.Ping(ctx, rdb, 200*time.Millisecond) }})
	}
	return deps
}

var errDraining = errors.New("shutting down")

// externalTokenHandler is the connector route, nil (no route) without its
// credentials.
func externalTokenHandler(c *core, log *slog.Logger, m *metrics.Metrics, gate *flow.RemovalGate,
	guard *webhook.Guard, exchanger bridge.Exchanger) http.Handler {
	cfg := c.cfg
	if !cfg.externalTokenEnabled() {
		return nil
	}
	for _, gap := range c.exchange.Mapping.ConnectorGaps() {
		log.Warn("this gate refuses connector calls that lack what it reads (Descope's user record has no amr and no dct); "+
			"set \"connector\": \"skip\" on it in IDENTITY_MAPPING if it should not judge them", "gate", gap)
	}
	log.Info("connector route enabled", "route", "/webhook/external-token",
		"authentication", cfg.Webhook.ExternalTokenSecrets().Types())
	return webhook.HandleExternalToken(webhook.ExternalTokenConfig{
		ProjectID:  cfg.Descope.ProjectID,
		Secrets:    cfg.Webhook.ExternalTokenSecrets(),
		Exchanger:  exchanger,
		Removed:    gate.Removed,
		Guard:      guard,
		RemovedTTL: cfg.Lifecycle.RemovedTTL,
		Access:     c.roles, // Validate requires the management key
		Log:        log,
		Metrics:    m,
	})
}

// auditHandler is the audit route, nil (no route) without its credentials.
func auditHandler(cfg *Config, log *slog.Logger, m *metrics.Metrics, guard *webhook.Guard, lc *lifecycle) http.Handler {
	if lc == nil {
		return nil
	}
	log.Info("audit route enabled", "route", "/webhook/audit",
		"authentication", cfg.Webhook.AuditSecrets().Types())
	return webhook.HandleAudit(webhook.AuditConfig{
		ProjectID:           cfg.Descope.ProjectID,
		Secrets:             cfg.Webhook.AuditSecrets(),
		Queue:               lc.queue,
		Marks:               lc.marks,
		RevokeOnMaxAttempts: cfg.Webhook.RevokeOnMaxAttempts,
		Guard:               guard,
		QueueCapacity:       cfg.Lifecycle.QueueSize,
		MaxAge:              cfg.Webhook.DedupeWindow,
		Log:                 log,
		Metrics:             m,
	})
}

// serve runs the server and background work until ctx ends, then shuts down
// gracefully within ShutdownTimeout.
func (s *service) serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Server.ListenHost, strconv.Itoa(s.cfg.Server.Port)))
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	s.addr = ln.Addr().String()
	srv := s.httpServer(ctx, s.handler)
	servers := []*http.Server{srv}

	errc := make(chan error, 2)
	if s.metricsHandler != nil {
		mln, err := net.Listen("tcp", s.cfg.Server.MetricsAddr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("listening for metrics: %w", err)
		}
		s.metricsAddr = mln.Addr().String()
		msrv := s.httpServer(ctx, s.metricsHandler)
		servers = append(servers, msrv)
		go func() { errc <- msrv.Serve(mln) }()
		s.log.Info("metrics listening", "addr", s.metricsAddr)
	}

	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	go s.warmUp(bg)

	// Lifecycle workers outlive the run context: on SIGTERM they finish
	// queued jobs within the shutdown budget (see shutdown).
	workers, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	workersDone := make(chan int, 1)
	if s.lifecycle != nil {
		go func() { workersDone <- s.lifecycle.run(workers) }()
	}

	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("bridge listening", "addr", s.addr, "descope_project", s.cfg.Descope.ProjectID,
		"firebase_project", s.cfg.Firebase.Project())
	close(s.ready)

	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	err = s.shutdown(ctx, servers, ln, stopWorkers, workersDone)
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
	return err
}

// errLoggedShutdown is returned when shutdown had to cut connections; the
// JSON log already says so, so main prints nothing more.
var errLoggedShutdown = errors.New("shutdown cut off open connections")

// shutdown drains, then stops the servers within ShutdownTimeout. Closing
// kept-alive connections at once races clients that are writing a request
// on them at that moment (the request is lost, never processed, and a POST
// is not retried). So first the listener closes, /readyz fails and every
// answer carries Connection: close for SHUTDOWN_DRAIN: each kept-alive
// client learns from its next answer to stop reusing its connection, and a
// new connection is refused before anything is written on it, which is
// always safe to retry (Cloud Run routes no new requests to an instance it
// is stopping). Only then are idle connections closed and the rest awaited.
// The listener closes first, not last, because a listener closed while
// clients connect resets the connections in its backlog, whose requests
// are already written.
func (s *service) shutdown(ctx context.Context, servers []*http.Server, ln net.Listener,
	stopWorkers context.CancelFunc, workersDone <-chan int) error {
	start := time.Now()
	s.draining.Store(true)
	_ = ln.Close()
	// Lifecycle workers stop taking new deliveries now and finish the
	// queue in the background, until shortly before the budget ends.
	lifecycleDone := make(chan struct{})
	if s.lifecycle != nil {
		go func() {
			defer close(lifecycleDone)
			s.lifecycle.drain(start.Add(s.cfg.Server.ShutdownTimeout-500*time.Millisecond), stopWorkers, workersDone)
		}()
	} else {
		close(lifecycleDone)
	}
	defer func() { <-lifecycleDone }()
	s.log.Info("shutting down: draining", "drain", s.cfg.Server.ShutdownDrain.String(),
		"timeout", s.cfg.Server.ShutdownTimeout.String())
	time.Sleep(s.cfg.Server.ShutdownDrain)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Server.ShutdownTimeout-time.Since(start))
	defer cancel()
	var cut bool
	for _, srv := range servers {
		err := srv.Shutdown(sctx)
		switch {
		// The listener was closed first (above), so Shutdown closing it again
		// may report net.ErrClosed when Serve has not yet noticed.
		case err == nil, errors.Is(err, http.ErrServerClosed), errors.Is(err, net.ErrClosed):
		case errors.Is(err, context.DeadlineExceeded):
			cut = true
			_ = srv.Close()
		default:
			return fmt.Errorf("shutting down: %w", err)
		}
	}
	if cut {
		s.log.Error("shutdown timed out: requests still running were cut off",
			"timeout", s.cfg.Server.ShutdownTimeout.String())
		return errLoggedShutdown
	}
	s.log.Info("shut down", "took_ms", time.Since(start).Milliseconds())
	return nil
}

// httpServer is the server settings every listener of the service shares.
func (s *service) httpServer(ctx context.Context, h http.Handler) *http.Server {
	return httpapi.NewServer(ctx, h, httpapi.ServerTimeouts{
		ReadHeader: 5 * time.Second, Read: 10 * time.Second, Write: writeTimeout, Idle: 90 * time.Second,
	}, s.log)
}

// warmUp loads Descope's keys and proves the signer works, retrying until
// both succeed, then keeps the keys fresh. /readyz reflects both.
func (s *service) warmUp(ctx context.Context) {
	go s.announceReady(ctx)
	if s.roles != nil {
		go s.roles.Run(ctx, descope.RoleCacheTTL, s.log)
	}
	go func() {
		for {
			err := s.keys.Refresh(ctx)
			if err == nil || ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
		s.keys.Run(ctx)
	}()
	for {
		err := s.firebase.SelfTest(ctx)
		s.signer.set(err)
		if err == nil || ctx.Err() != nil {
			return
		}
		s.log.Error("firebase signer self-test failed; retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

// announceReady logs once, at Info, when /readyz first turns 200: the line
// an operator looks for after a deploy.
func (s *service) announceReady(ctx context.Context) {
	start := time.Now()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if s.keys.Ready() == nil && s.signer.get() == nil {
			s.log.Info("ready: descope keys loaded and the firebase signer works",
				"after_ms", time.Since(start).Milliseconds())
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
