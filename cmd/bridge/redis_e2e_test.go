package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/emulator/authemu"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
	"github.com/dfbridge/dfbridge/emulator/redisserver"
)

// cluster is several bridges sharing one Descope stand-in and one Redis,
// as instances of one Cloud Run service.
type cluster struct {
	stub      *descopestub.Stub
	redis     *redisserver.Server
	instances []*stack
}

func startCluster(t *testing.T, n int, env map[string]string) *cluster {
	t.Helper()
	srv := redisserver.Start(t)
	stub, err := descopestub.New(descopestub.Options{ProjectID: testProject, ManagementKey: "mgmt-secret"})
	require.NoError(t, err)
	ts := httptest.NewServer(stub.Handler())
	t.Cleanup(ts.Close)
	emu := authemu.ForTest(t)
	full := map[string]string{"REDIS_URL": srv.URL(), "AUDIT_WEBHOOK_HMAC_SECRETS": auditSecret}
	for k, v := range env {
		full[k] = v
	}
	c := &cluster{stub: stub, redis: srv}
	for range n {
		c.instances = append(c.instances, startStackWith(t, emu.Host, nil, full, stackOptions{descope: stub, descopeURL: ts.URL}))
	}
	return c
}

// Three instances, one Redis: a per-user limit of 30/min with a burst of
// 10, hit through all three in turn, admits about 10 exchanges, not 30.
func TestSharedLimitHoldsAcrossInstances(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, map[string]string{
		"RATE_LIMIT_USER_PER_MINUTE": "30", "RATE_LIMIT_USER_BURST": "10", "EXCHANGE_CACHE_SIZE": "0",
	})
	admitted, limited := 0, 0
	for i := range 30 {
		tok, err := c.stub.MintSession(descopestub.Session{UserID: "U2shared"})
		require.NoError(t, err)
		resp := c.instances[i%3].exchangeBearer(t, tok)
		switch resp.Status {
		case http.StatusOK:
			admitted++
		case http.StatusTooManyRequests:
			limited++
			assert.NotEmpty(t, resp.Header.Get("Retry-After"))
		default:
			t.Fatalf("exchange %d: %d %s", i, resp.Status, resp.Body)
		}
	}
	t.Logf("30 exchanges through 3 instances in turn: %d admitted, %d limited", admitted, limited)
	assert.InDelta(t, 10, admitted, 1, "one burst across the cluster, not one per instance")
}

// An audit delivery replayed to a second instance is a duplicate there.
func TestAuditReplayToAnotherInstanceIsADuplicate(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2, nil)
	body, err := c.stub.AuditDelivery(descopestub.AuditEvent{Action: "UserModified", UserID: "U2replayed"})
	require.NoError(t, err)
	first := c.instances[0].deliver(t, "/webhook/audit", auditSecret, body)
	require.Equal(t, http.StatusAccepted, first.Status, "body: %s", first.Body)
	assert.Equal(t, "accepted", first.json(t)["status"])
	again := c.instances[1].deliver(t, "/webhook/audit", auditSecret, body)
	require.Equal(t, http.StatusAccepted, again.Status, "body: %s", again.Body)
	assert.Equal(t, "duplicate", again.json(t)["status"])
}

// With Redis stopped, exchanges still succeed on the instance's own limits,
// /readyz stays 200 and names redis as degraded, and an audit delivery gets
// 503 so Descope retries it rather than it being kept in memory and lost.
func TestRedisDownKeepsExchangesAndRefusesDeliveries(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 1, map[string]string{"EXCHANGE_CACHE_SIZE": "0"})
	s := c.instances[0]
	c.redis.Stop()

	for i := range 3 {
		tok, err := c.stub.MintSession(descopestub.Session{UserID: "U2down"})
		require.NoError(t, err)
		resp := s.exchangeBearer(t, tok)
		require.Equal(t, http.StatusOK, resp.Status, "exchange %d: %s", i, resp.Body)
	}
	assert.Equal(t, 1, strings.Count(s.logs.String(), "redis unreachable or slow"), "logged once per episode")

	ready := s.do(t, http.MethodGet, "/readyz", nil, nil)
	assert.Equal(t, http.StatusOK, ready.Status)
	assert.Equal(t, []any{"redis"}, ready.json(t)["degraded"])

	body, err := c.stub.AuditDelivery(descopestub.AuditEvent{Action: "UserDeleted", UserID: "U2down"})
	require.NoError(t, err)
	resp := s.deliver(t, "/webhook/audit", auditSecret, body)
	assert.Equal(t, http.StatusServiceUnavailable, resp.Status)
	assert.Equal(t, "busy", resp.errorCode(t))
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))

	t.Run("when Redis is back, the retried delivery is accepted", func(t *testing.T) {
		require.NoError(t, c.redis.Restart(context.Background()))
		require.Eventually(t, func() bool {
			return s.deliver(t, "/webhook/audit", auditSecret, body).Status == http.StatusAccepted
		}, 15*time.Second, 200*time.Millisecond)
	})
}

// Nothing secret is kept in Redis: after exchanges, deliveries and jobs,
// no key or value holds a session JWT, a custom token, a webhook secret or
// the management key.
func TestRedisHoldsNoSecret(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2, map[string]string{"EXCHANGE_CACHE_SIZE": "0"})
	var secrets []string
	for i := range 4 {
		tok, err := c.stub.MintSession(descopestub.Session{UserID: "U2private", Roles: []string{"viewer"}})
		require.NoError(t, err)
		resp := c.instances[i%2].exchangeBearer(t, tok)
		require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
		secrets = append(secrets, tok, resp.json(t)["externalToken"].(string))
	}
	body, err := c.stub.AuditDelivery(descopestub.AuditEvent{Action: "UserModified", UserID: "U2private"},
		descopestub.AuditEvent{Action: "UsersModified", Data: map[string]any{"userIds": []string{"U2a", "U2b"}}})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, c.instances[0].deliver(t, "/webhook/audit", auditSecret, body).Status)
	secrets = append(secrets, auditSecret, "mgmt-secret", redisserver.Password)

	rdb := redis.NewClient(&redis.Options{Addr: c.redis.Addr, Password: redisserver.Password})
	defer rdb.Close()
	ctx := context.Background()
	dump := dumpRedis(ctx, t, rdb)
	require.NotEmpty(t, dump, "the run left state in Redis")
	for _, secret := range secrets {
		for _, part := range []string{secret, strings.SplitN(secret, ".", 2)[0] + "." + strings.SplitN(secret+".", ".", 3)[1]} {
			assert.NotContains(t, dump, part)
		}
	}
	// The user ID appears only hashed in keys.
	assert.NotContains(t, strings.Split(dump, "\n")[0], "U2private")
}

// dumpRedis is every key and value in Redis, as text (redis-cli --scan and
// a dump of each value).
func dumpRedis(ctx context.Context, t *testing.T, rdb *redis.Client) string {
	t.Helper()
	var b strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		b.WriteString(k + "\n")
		typ, err := rdb.Type(ctx, k).Result()
		require.NoError(t, err)
		switch typ {
		case "string":
			b.WriteString(rdb.Get(ctx, k).Val() + "\n")
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				b.WriteString(f + "=" + v + "\n")
			}
		case "stream":
			for _, m := range rdb.XRange(ctx, k, "-", "+").Val() {
				for f, v := range m.Values {
					b.WriteString(f + "=" + v.(string) + "\n")
				}
			}
		}
	}
	require.NoError(t, iter.Err())
	return b.String()
}
