// Package metrics holds the service's Prometheus metrics in one registry, so
// every package records into the same named series and /metrics exposes them.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dfbridge/dfbridge/internal/safe"
)

// Metrics is the set of series the bridge records. A nil *Metrics records
// nothing, so packages can take one optionally.
type Metrics struct {
	Registry *prometheus.Registry

	// Exchanges counts exchanges by result code ("ok" or an error code).
	Exchanges *prometheus.CounterVec
	// RequestDuration is latency per route, method and status.
	RequestDuration *prometheus.HistogramVec
	// KeyFetches counts Descope key-set fetches by reason and outcome.
	KeyFetches *prometheus.CounterVec
	// WebhookEvents counts Descope webhook deliveries by type and outcome.
	WebhookEvents *prometheus.CounterVec
	// ExchangeCache counts repeat-exchange cache look-ups by result.
	ExchangeCache *prometheus.CounterVec
	// CORSRefused counts cross-origin preflights refused (origin not allowed).
	CORSRefused prometheus.Counter
	// Panics counts panics recovered around a dependency, by component.
	Panics *prometheus.CounterVec
	// LifecycleJobs counts lifecycle jobs run, by kind and outcome.
	LifecycleJobs *prometheus.CounterVec
	// RedisFallbacks counts episodes of shared state (Redis) being
	// unreachable or slow, by what fell back (limits, queue).
	RedisFallbacks *prometheus.CounterVec
	// RedisLatency is the latency of Redis calls, by operation.
	RedisLatency *prometheus.HistogramVec
	// DeadLetters counts lifecycle jobs moved to the dead-letter stream.
	DeadLetters prometheus.Counter
	// SignBlob is the latency of IAM signBlob attempts by outcome (ok,
	// retried_429, 429, 4xx, 5xx, error, breaker_open).
	SignBlob *prometheus.HistogramVec
	// Admission is how long exchanges waited for their turn in the
	// first-come-first-served queue (key-file signing).
	Admission prometheus.Histogram
}

// New creates the metrics and registers them, with Go runtime and process
// collectors, in a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dfbridge_exchanges_total",
			Help: "Session exchanges by result code.",
		}, []string{"code"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dfbridge_http_request_duration_seconds",
			Help:    "HTTP request latency by route, method and status.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method", "status"}),
		KeyFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dfbridge_descope_key_fetches_total",
			Help: "Descope key-set fetches by reason (startup, scheduled, unknown_kid) and outcome (ok, error).",
		}, []string{"reason", "outcome"}),
		WebhookEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dfbridge_webhook_events_total",
			Help: "Descope webhook deliveries by event type and outcome.",
		}, []string{"type", "outcome"}),
		ExchangeCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dfbridge_exchange_cache_total",
			Help: "Repeat-exchange cache look-ups by result (hit, miss).",
		}, []string{"result"}),
		LifecycleJobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dfbridge_lifecycle_jobs_total",
			Help: "Lifecycle jobs run in the background, by kind (user, roles) and outcome (disabled, revoked, synced, ..., retry, failed).",
		}, []string{"kind", "outcome"}),
		RedisFallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dfbridge_redis_fallback_episodes_total",
			Help: "Episodes of Redis being unreachable or slow, by what fell back: limits (to per-instance limits).",
		}, []string{"component"}),
		RedisLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dfbridge_redis_call_duration_seconds",
			Help:    "Latency of Redis calls by operation (limits, marks, enqueue).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}, []string{"op"}),
		SignBlob: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dfbridge_iam_signblob_duration_seconds",
			Help:    "IAM signBlob attempts of keyless signing, by outcome (ok, retried_429, 429, 4xx, 5xx, error, breaker_open).",
			Buckets: []float64{.005, .01, .02, .03, .035, .04, .045, .05, .075, .1, .25, .5, 1, 2.5},
		}, []string{"outcome"}),
		Admission: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dfbridge_exchange_queue_wait_seconds",
			Help:    "Time exchanges waited for their turn in the first-come-first-served queue (key-file signing).",
			Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		DeadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dfbridge_lifecycle_dead_letters_total",
			Help: "Lifecycle jobs moved to the dead-letter stream after LIFECYCLE_MAX_ATTEMPTS deliveries.",
		}),
		Panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dfbridge_recovered_panics_total",
			Help: "Panics recovered around a dependency (a Redis, IAM or Descope client), by component; each fell back or failed its call.",
		}, []string{"component"}),
		CORSRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dfbridge_cors_preflight_refused_total",
			Help: "CORS preflights refused because their origin is not in CORS_ALLOWED_ORIGINS.",
		}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.Exchanges, m.RequestDuration, m.KeyFetches, m.WebhookEvents, m.ExchangeCache, m.CORSRefused,
		m.LifecycleJobs, m.RedisFallbacks, m.RedisLatency, m.DeadLetters, m.SignBlob, m.Admission, m.Panics,
	)
	return m
}

// Exchange records one exchange's result code.
func (m *Metrics) Exchange(code string) {
	if m != nil {
		m.Exchanges.WithLabelValues(code).Inc()
	}
}

// KeyFetch records one key-set fetch.
func (m *Metrics) KeyFetch(reason, outcome string) {
	if m != nil {
		m.KeyFetches.WithLabelValues(reason, outcome).Inc()
	}
}

// WebhookEvent records one webhook delivery.
func (m *Metrics) WebhookEvent(eventType, outcome string) {
	if m != nil {
		m.WebhookEvents.WithLabelValues(eventType, outcome).Inc()
	}
}

// CacheLookup records one exchange-cache look-up ("hit" or "miss").
func (m *Metrics) CacheLookup(result string) {
	if m != nil {
		m.ExchangeCache.WithLabelValues(result).Inc()
	}
}

// CORSPreflightRefused records one refused preflight.
func (m *Metrics) CORSPreflightRefused() {
	if m != nil {
		m.CORSRefused.Inc()
	}
}

// Request records one HTTP request's latency. route must be a route
// template or a fixed name, never a raw path, to keep the series bounded.
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	if m != nil {
		m.RequestDuration.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
	}
}

// Handler serves the registry in Prometheus' exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// LifecycleJob counts one lifecycle job run.
func (m *Metrics) LifecycleJob(kind, outcome string) {
	if m != nil {
		m.LifecycleJobs.WithLabelValues(kind, outcome).Inc()
	}
}

// QueueDepth exports the number of lifecycle jobs waiting, read from depth
// at each scrape.
func (m *Metrics) QueueDepth(depth func() int) {
	if m != nil {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dfbridge_lifecycle_queue_depth",
			Help: "Lifecycle jobs waiting to run (users, coalesced).",
		}, func() float64 { return float64(depth()) }))
	}
}

// RedisFallback counts one fallback episode of component.
func (m *Metrics) RedisFallback(component string) {
	if m != nil {
		m.RedisFallbacks.WithLabelValues(component).Inc()
	}
}

// RecoveredPanic counts err when it is a recovered panic (a
// *safe.PanicError); other errors are not counted.
func (m *Metrics) RecoveredPanic(err error) {
	var pe *safe.PanicError
	if m != nil && errors.As(err, &pe) {
		m.Panics.WithLabelValues(pe.Component).Inc()
	}
}

// RedisCall observes one Redis call of op.
func (m *Metrics) RedisCall(op string, d time.Duration) {
	if m != nil {
		m.RedisLatency.WithLabelValues(op).Observe(d.Seconds())
	}
}

// DeadLetter counts one job moved to the dead-letter stream.
func (m *Metrics) DeadLetter() {
	if m != nil {
		m.DeadLetters.Inc()
	}
}

// SignBlobCall observes one IAM signBlob attempt.
func (m *Metrics) SignBlobCall(outcome string, d time.Duration) {
	if m != nil {
		m.SignBlob.WithLabelValues(outcome).Observe(d.Seconds())
	}
}

// AdmissionWait observes how long one exchange waited for its turn.
func (m *Metrics) AdmissionWait(d time.Duration) {
	if m != nil {
		m.Admission.Observe(d.Seconds())
	}
}
