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
	"github.com/dfbridge/dfbridge/httpapi"
	"github.com/dfbridge/dfbridge/metrics"
	"github.com/dfbridge/dfbridge/ratelimit"
	"github.com/dfbridge/dfbridge/redisstore"
	"github.com/dfbridge/dfbridge/webhook"
)

// service is the assembled bridge: adapters, use case and server.
type service struct {
	cfg      *Config
	log      *slog.Logger
	metrics  *metrics.Metrics
	keys     *descope.KeySource
	firebase *firebase.Client
	signer   *readiness
	// cache is the repeat-exchange cache, nil when turned off. Lifecycle
	// events call its Invalidate (nil-safe) to drop a user's entries.
	cache   *bridge.ExchangeCache
	handler http.Handler
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

func newService(ctx context.Context, cfg *Config, stdout io.Writer) (*service, error) {
	level, _ := cfg.slogLevel()
	log := httpapi.NewLogger(stdout, level)
	m := metrics.New()

	// The exchange cache is built below; a change in Descope's key set
	// purges it, so a removed key's sessions stop being served from memory.
	var cache *bridge.ExchangeCache
	var keys *descope.KeySource
	watch := &keySetWatch{}
	keys = descope.NewKeySource(descope.KeySourceConfig{
		BaseURL:            cfg.DescopeBaseURL,
		ProjectID:          cfg.DescopeProjectID,
		RefreshInterval:    cfg.KeysRefreshInterval,
		UnknownKIDCooldown: cfg.KeysUnknownKIDCooldown,
		MaxStale:           cfg.KeysMaxStale,
		FetchTimeout:       cfg.KeysFetchTimeout,
		Logger:             log,
		Observe: func(reason, outcome string) {
			m.KeyFetch(reason, outcome)
			if outcome == "ok" && watch.changed(keys.JWKS()) {
				cache.Purge()
			}
		},
	})
	verifier, err := descope.NewVerifier(descope.VerifierConfig{
		ProjectID:     cfg.DescopeProjectID,
		BaseURL:       cfg.DescopeBaseURL,
		ManagementKey: cfg.DescopeManagementKey,
		Keys:          keys,
		Leeway:        cfg.TokenLeeway,
		AuthSchema:    cfg.authSchema,
		// Trimmed: envconfig keeps the spaces around commas.
		AllowedAudiences: trimAll(cfg.DescopeAllowedAudiences),
	})
	if err != nil {
		return nil, fmt.Errorf("building descope verifier: %w", err)
	}

	if cfg.FirebaseAuthEmulatorHost != "" {
		log.Warn("minting unsigned Auth emulator tokens; never do this in production",
			"emulator", cfg.FirebaseAuthEmulatorHost)
	}
	fbc, err := newFirebase(ctx, cfg, m.SignBlobCall)
	if err != nil {
		return nil, err
	}
	account := fbc.Account()
	if account == "" {
		account = cfg.keyAccount
	}
	log.Info("signing firebase custom tokens", "mode", fbc.Mode(), "account", account,
		"firebase_project", cfg.FirebaseProjectID)

	var minter bridge.Minter = fbc.Minter()
	cores := startCores
	if fbc.Mode() == firebase.ModeKey {
		if os.Getenv("GOMAXPROCS") == "" {
			// Signing keeps every core's scheduler busy, and Go reads the
			// network only when a scheduler is idle or every 10 ms:
			// arrivals would queue unseen in the sockets, in no order. One
			// scheduler more than the cores, with signing held to the
			// cores, stays free to read each request as it arrives and
			// queue it in arrival order. (An operator's GOMAXPROCS is
			// left alone.)
			runtime.GOMAXPROCS(cores + 1)
		}
		// Local signing is CPU-bound: queue it, one signature per core.
		if minter, err = bridge.NewSignQueue(minter, cores); err != nil {
			return nil, fmt.Errorf("building sign queue: %w", err)
		}
	}
	// The role table resolves permissions where a session or user record
	// carries roles only: on the connector route always, on /exchange with
	// DESCOPE_RESOLVE_PERMISSIONS.
	var roles *descope.Roles
	if cfg.DescopeManagementKey != "" {
		roles = descope.NewRoles(verifier.SDK())
	}
	var rdb *redis.Client
	userLimit := ratelimit.New(cfg.RateLimitUserPerMinute, cfg.RateLimitUserBurst)
	sessions := bridge.LimitUsers(verifier, userLimit)
	if cfg.RedisURL != "" {
		redisstore.RouteLogs(log)
		if rdb, err = redisstore.Open(cfg.RedisURL, cfg.RedisCAFile); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		// Both limits are shared by every instance, checked together in
		// one round trip once the user is known; the per-address limit
		// also runs per instance before verification, as a cheap shield.
		limits := redisstore.NewLimits(rdb, cfg.RateLimitIPPerMinute, cfg.RateLimitIPBurst,
			cfg.RateLimitUserPerMinute, cfg.RateLimitUserBurst)
		limits.Fallback, limits.Log, limits.Metrics = userLimit, log, m
		sessions = bridge.LimitExchanges(verifier, limits)
		log.Info("shared state in redis: exchange limits, audit-event memory, lifecycle queue",
			"addr", rdb.Options().Addr, "tls", rdb.Options().TLSConfig != nil, "pool", rdb.Options().PoolSize)
	}
	if cfg.ResolvePermissions {
		var access bridge.AccessResolver = roles
		if cfg.authSchema == descope.SchemaNone {
			// The token names no roles: read them from the user's record.
			access = roles.WithUserRoles(descope.NewUsers(verifier.SDK()))
		}
		sessions = bridge.ResolvingVerifier{Verifier: sessions, Access: access}
	}
	log.Info("descope sessions", "auth_schema", string(cfg.authSchema), "resolve_permissions", cfg.ResolvePermissions)
	x := &bridge.Exchanger{
		Verifier: sessions,
		Mapping:  cfg.mapping,
		Minter:   minter,
	}
	if x.Mapping == nil {
		x.Mapping = bridge.DefaultMapping()
	}
	if mc := x.Mapping.Migration(); mc != nil {
		if x.Migrator, err = newMigrator(*mc, fbc, verifier); err != nil {
			return nil, err
		}
		log.Info("migration mode: existing Firebase accounts keep their UIDs", "settings", mc.String())
	}
	var inner bridge.AdmittedExchanger = x
	if fbc.Mode() == firebase.ModeKey {
		// With a key file the whole exchange is CPU work: admit it in
		// arrival order, a few per core, so queueing happens in one FIFO
		// place rather than across the scheduler. Cache hits are not
		// queued: the cache sits in front.
		admit, err := bridge.NewAdmission(x, bridge.AdmissionConfig{
			InFlight: cfg.ExchangeInFlightPerCore * cores,
			MaxQueue: cfg.ExchangeQueueMax, MaxWait: admissionMaxWait,
		})
		if err != nil {
			return nil, fmt.Errorf("building admission queue: %w", err)
		}
		admit.Observe = m.AdmissionWait
		inner = admit
	}
	var exchanger httpapi.Exchanger = inner
	if cfg.ExchangeCacheSize > 0 {
		cache, err = bridge.NewExchangeCache(inner, bridge.CacheConfig{
			Size: cfg.ExchangeCacheSize, TTL: cfg.ExchangeCacheTTL, Observe: m.CacheLookup,
		})
		if err != nil {
			return nil, fmt.Errorf("building exchange cache: %w", err)
		}
		exchanger = cache
	}
	s := &service{
		cfg:      cfg,
		log:      log,
		metrics:  m,
		keys:     keys,
		firebase: fbc,
		signer:   &readiness{},
		cache:    cache,
		ready:    make(chan struct{}),
		draining: &atomic.Bool{},
		roles:    roles,
		rdb:      rdb,
	}
	deps := routeDeps{
		log:       log,
		metrics:   m,
		exchanger: exchanger,
		traceProj: cfg.traceProject(),
		readiness: []httpapi.ReadinessCheck{
			{Name: "descope_keys", Check: func(context.Context) error { return keys.Ready() }},
			{Name: "firebase_signer", Check: func(context.Context) error { return s.signer.get() }},
			{Name: "shutting_down", Check: func(context.Context) error {
				if s.draining.Load() {
					return errDraining
				}
				return nil
			}},
		},
		draining:       s.draining,
		serveMetrics:   cfg.MetricsOnMainPort,
		corsOrigins:    cfg.CORSAllowedOrigins,
		clientLimit:    ratelimit.New(cfg.RateLimitIPPerMinute, cfg.RateLimitIPBurst),
		trustedProxies: cfg.TrustedProxyHops,
	}
	if rdb != nil {
		deps.readiness = append(deps.readiness, httpapi.ReadinessCheck{Name: "redis", Degraded: true,
			Check: func(ctx context.Context) error { return redisstore.Ping(ctx, rdb, 200*time.Millisecond) }})
	}
	// Every exchange's result passes the removed-user gate, however it was
	// reached (fresh, cached, connector).
	gate := &bridge.RemovalGate{Removed: newRemoved(rdb, log, m)}
	if cfg.auditWebhookEnabled() {
		s.lifecycle = newLifecycle(cfg, log, m, x, verifier, fbc, roles, cache, rdb, gate.Removed)
		gate.Adopt = s.lifecycle.adopt
	}
	deps.exchanger = gate.Tokens(exchanger)
	guard := webhook.NewGuard(webhook.DefaultBodyBudget, cfg.WebhookRefusalsPerMinute, cfg.TrustedProxyHops)
	deps.externalToken, deps.audit = webhookHandlers(cfg, log, m, x, gate, guard, inner, roles, s.lifecycle)
	s.handler = addRoutes(deps)
	if cfg.MetricsAddr != "" {
		s.metricsHandler = metricsRoutes(deps)
	}
	if cfg.CloudRunService != "" && cfg.TrustedProxyHops == 0 && cfg.RateLimitIPPerMinute > 0 {
		log.Warn("on Cloud Run with TRUSTED_PROXY_HOPS=0: every request comes from the front end's address, " +
			"so the per-address limit is shared by all clients; set TRUSTED_PROXY_HOPS=1")
	}
	return s, nil
}

var errDraining = errors.New("shutting down")

// webhookHandlers builds the Descope webhook handlers that have a secret
// configured; the others stay nil and their routes do not exist.
func webhookHandlers(cfg *Config, log *slog.Logger, m *metrics.Metrics, x *bridge.Exchanger, gate *bridge.RemovalGate,
	guard *webhook.Guard, admitted bridge.AdmittedExchanger,
	roles *descope.Roles, lc *lifecycle) (externalToken, audit http.Handler) {
	if cfg.externalTokenEnabled() {
		for _, gap := range x.Mapping.ConnectorGaps() {
			log.Warn("this gate refuses connector calls that lack what it reads (Descope's user record has no amr and no dct); "+
				"set \"connector\": \"skip\" on it in IDENTITY_MAPPING if it should not judge them", "gate", gap)
		}
		if roles == nil {
			panic("external-token route without a role table") // Validate requires DESCOPE_MANAGEMENT_KEY
		}
		log.Info("connector route enabled", "route", "/webhook/external-token",
			"authentication", cfg.externalTokenSecrets().Types())
		externalToken = webhook.HandleExternalToken(webhook.ExternalTokenConfig{
			ProjectID:  cfg.DescopeProjectID,
			Secrets:    cfg.externalTokenSecrets(),
			Exchanger:  gate.Sessions(admitted), // in arrival order with /exchange when signing is local
			Removed:    gate.Removed,
			Guard:      guard,
			RemovedTTL: cfg.LifecycleRemovedTTL,
			Access:     roles,
			Log:        log,
			Metrics:    m,
		})
	}
	if cfg.auditWebhookEnabled() {
		log.Info("audit route enabled", "route", "/webhook/audit",
			"authentication", cfg.auditSecrets().Types())
		audit = webhook.HandleAudit(webhook.AuditConfig{
			ProjectID:           cfg.DescopeProjectID,
			Secrets:             cfg.auditSecrets(),
			Queue:               lc.queue,
			Marks:               lc.marks,
			RevokeOnMaxAttempts: cfg.AuditWebhookRevokeOnMaxAttempts,
			Guard:               guard,
			QueueCapacity:       cfg.LifecycleQueueSize,
			Log:                 log,
			Metrics:             m,
		})
	}
	return externalToken, audit
}

// serve runs the server and background work until ctx ends, then shuts down
// gracefully within ShutdownTimeout.
func (s *service) serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.ListenHost, strconv.Itoa(s.cfg.Port)))
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	ln = httpapi.FramingListener(ln)
	s.addr = ln.Addr().String()
	srv := s.httpServer(ctx, s.handler)
	servers := []*http.Server{srv}

	errc := make(chan error, 2)
	if s.metricsHandler != nil {
		mln, err := net.Listen("tcp", s.cfg.MetricsAddr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("listening for metrics: %w", err)
		}
		mln = httpapi.FramingListener(mln)
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
	s.log.Info("bridge listening", "addr", s.addr, "descope_project", s.cfg.DescopeProjectID,
		"firebase_project", s.cfg.FirebaseProjectID)
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
			s.lifecycle.drain(start.Add(s.cfg.ShutdownTimeout-500*time.Millisecond), stopWorkers, workersDone)
		}()
	} else {
		close(lifecycleDone)
	}
	defer func() { <-lifecycleDone }()
	s.log.Info("shutting down: draining", "drain", s.cfg.ShutdownDrain.String(),
		"timeout", s.cfg.ShutdownTimeout.String())
	time.Sleep(s.cfg.ShutdownDrain)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout-time.Since(start))
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
			"timeout", s.cfg.ShutdownTimeout.String())
		return errLoggedShutdown
	}
	s.log.Info("shut down", "took_ms", time.Since(start).Milliseconds())
	return nil
}

// httpServer is the server settings every listener of the service shares.
func (s *service) httpServer(ctx context.Context, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Requests must outlive the run context: on SIGTERM, Shutdown lets
		// in-flight requests finish, which a cancelled context would abort.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		// Requests carrying both Transfer-Encoding and Content-Length are
		// refused (httpapi.RefuseAmbiguousFraming), seen on the raw bytes.
		ConnContext: httpapi.FramingContext,
	}
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

// newFirebase builds the Admin SDK client the service and `bridge
// reconcile` share; observe is told each IAM signBlob attempt (keyless).
func newFirebase(ctx context.Context, cfg *Config, observe func(string, time.Duration)) (*firebase.Client, error) {
	if cfg.FirebaseAuthEmulatorHost != "" {
		// The Admin SDK takes emulator mode from the environment only.
		if err := os.Setenv("FIREBASE_AUTH_EMULATOR_HOST", cfg.FirebaseAuthEmulatorHost); err != nil {
			return nil, fmt.Errorf("setting emulator host: %w", err)
		}
	}
	fbc, err := firebase.New(ctx, firebase.Config{
		ProjectID:           cfg.FirebaseProjectID,
		CredentialsJSON:     []byte(cfg.FirebaseServiceAccountJSON),
		CredentialsFile:     cfg.GoogleApplicationCredentials,
		ServiceAccountEmail: cfg.FirebaseServiceAccountEmail,
		EmulatorHost:        cfg.FirebaseAuthEmulatorHost,
		Options:             cfg.googleOptions,
		IAM:                 firebase.IAMOptions{Base: cfg.iamBase, Observe: observe},
	})
	if err != nil {
		return nil, fmt.Errorf("building firebase client: %w", err)
	}
	return fbc, nil
}
