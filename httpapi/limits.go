package httpapi

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/flow"
	"github.com/dfbridge/dfbridge/metrics"
)

// LimitClients admits exchanges per client address before the handler runs,
// so a flood from one address is turned away before any token is read,
// parsed or verified; refusals count as exchanges with code rate_limited.
// trustedProxies is how many proxies in front of the service append to
// X-Forwarded-For (see ClientIP).
func LimitClients(log *slog.Logger, m *metrics.Metrics, l flow.Limiter, trustedProxies int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip := ClientIP(r, trustedProxies)
			if ok, wait := l.Allow(ip); !ok {
				m.Exchange(string(bridge.CodeRateLimited))
				WriteError(w, r, log, bridge.RateLimited(wait, "client "+ip+" is over the per-address limit"))
				return
			}
			next.ServeHTTP(w, r.WithContext(flow.WithClientAddr(r.Context(), ip)))
		})
	}
}

// ClientIP is the address a request is limited by. With trustedProxies 0 it
// is the connection's peer: X-Forwarded-For is written by the client and
// proves nothing. With n trusted proxies in front (1 on Cloud Run, whose
// front end appends the address it saw), it is the n-th entry from the right
// of X-Forwarded-For, the one the outermost trusted proxy appended; anything
// left of it is client-supplied. If the header is shorter than that, or the
// entry is not an IP, the peer address is used, so a bad header can only
// share a bucket, never pick one. IPv6 addresses are grouped by /64, the
// block one subscriber usually holds.
func ClientIP(r *http.Request, trustedProxies int) string {
	if trustedProxies > 0 {
		var entries []string
		for _, h := range r.Header.Values("X-Forwarded-For") {
			entries = append(entries, strings.Split(h, ",")...)
		}
		if i := len(entries) - trustedProxies; i >= 0 {
			if a, err := netip.ParseAddr(strings.TrimSpace(entries[i])); err == nil {
				return addrKey(a)
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return addrKey(a)
	}
	return host
}

func addrKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}
