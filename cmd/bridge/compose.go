package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/descope"
	"github.com/dfbridge/dfbridge/firebase"
	"github.com/dfbridge/dfbridge/flow"
	"github.com/dfbridge/dfbridge/metrics"
	"github.com/dfbridge/dfbridge/redisstore"
)

// core is what the server, `bridge reconcile` and `bridge doctor` build
// alike from one configuration: the adapters to Descope and Firebase and
// the exchange use case over them. Built in one place, the commands
// cannot drift apart (verify, map and converge the same way).
type core struct {
	cfg      *Config
	log      *slog.Logger
	keys     *descope.KeySource
	verifier *descope.Verifier
	firebase *firebase.Client
	// roles is Descope's role table, nil without a management key.
	roles *descope.Roles
	// exchange is the use case, signing with the Admin SDK's minter.
	exchange *bridge.Exchange
}

// buildCore builds the adapters and the use case. m may be nil (the
// commands that serve no metrics).
func buildCore(ctx context.Context, cfg *Config, log *slog.Logger, m *metrics.Metrics) (*core, error) {
	keys := cfg.Descope.NewKeySource(log, m.KeyFetch)
	verifier, err := cfg.Descope.NewVerifier(keys)
	if err != nil {
		return nil, err
	}
	hooks := cfg.hooks
	hooks.Observe = m.SignBlobCall
	fbc, err := cfg.Firebase.NewClient(ctx, hooks)
	if err != nil {
		return nil, err
	}
	c := &core{cfg: cfg, log: log, keys: keys, verifier: verifier, firebase: fbc,
		exchange: &bridge.Exchange{Verifier: verifier, Mapping: cfg.mapping, Minter: fbc.Minter()}}
	if cfg.Descope.ManagementKey != "" {
		c.roles = descope.NewRoles(verifier.SDK())
	}
	if mc := cfg.mapping.Migration(); mc != nil {
		if c.exchange.Migrator, err = newMigrator(*mc, fbc, verifier); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// backgroundAccess is Descope's and Firebase's management APIs as
// background work (lifecycle jobs, reconcile) uses them: held to
// LIFECYCLE_DESCOPE_RPS and LIFECYCLE_FIREBASE_RPS, so background work
// cannot spend the project's quota.
type backgroundAccess struct {
	users    *descope.Users
	roles    *descope.Roles
	accounts flow.ThrottledAccounts
}

func (c *core) backgroundAccess() backgroundAccess {
	descopeLimit := flow.NewLimiter(c.cfg.Lifecycle.DescopeRPS)
	roles := c.roles
	if roles == nil {
		roles = descope.NewRoles(c.verifier.SDK())
	}
	return backgroundAccess{
		users:    descope.NewUsers(c.verifier.SDK()).WithRoles(roles).Throttled(descopeLimit),
		roles:    roles.Throttled(descopeLimit),
		accounts: flow.ThrottledAccounts{Accounts: c.firebase.Accounts(), Limit: flow.NewLimiter(c.cfg.Lifecycle.FirebaseRPS)},
	}
}

// lifecycleUseCase is the lifecycle use case as the server and `bridge
// reconcile` both build it, so the same settings always converge the
// same way.
func (c *core) lifecycleUseCase(users bridge.UserLoader, accounts bridge.Accounts, removed bridge.RemovedUsers) *bridge.Lifecycle {
	lc := c.cfg.Lifecycle
	return &bridge.Lifecycle{
		ProjectID:      c.cfg.Descope.ProjectID,
		Users:          users,
		Accounts:       accounts,
		Identities:     c.exchange,
		DeleteAccounts: lc.OnUserDeleted == "delete",
		Removed:        removed,
		RemovedTTL:     lc.RemovedTTL,
		ProfileAll:     lc.ProfileSync == "all",
	}
}

// openRedis opens the shared state's Redis, or returns nil without
// REDIS_URL.
func openRedis(cfg *Config, log *slog.Logger) (*redis.Client, error) {
	if cfg.Redis.URL == "" {
		return nil, nil
	}
	redisstore.RouteLogs(log)
	rdb, err := redisstore.Open(cfg.Redis.URL, cfg.Redis.CAFile)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return rdb, nil
}

// newRemoved is where removed users are remembered: Redis when the
// instances share state, else this process's memory.
func newRemoved(rdb *redis.Client, log *slog.Logger, m *metrics.Metrics) bridge.RemovedUsers {
	if rdb != nil {
		return redisstore.NewRemoved(rdb, log, m)
	}
	return flow.NewMemoryRemoved(1_000_000)
}
