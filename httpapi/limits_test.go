package httpapi

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClientIP(t *testing.T) {
	cases := []struct {
		name    string
		remote  string
		xff     []string
		proxies int
		want    string
	}{
		{"with no trusted proxy the peer is the client", "192.0.2.1:5555", nil, 0, "192.0.2.1"},
		{"with no trusted proxy X-Forwarded-For is ignored", "192.0.2.1:5555", []string{"203.0.113.9"}, 0, "192.0.2.1"},
		{"behind one proxy the right-most entry is the client", "10.0.0.1:5555", []string{"198.51.100.1, 203.0.113.9"}, 1, "203.0.113.9"},
		{"behind two proxies the second from the right is the client", "10.0.0.1:5555", []string{"198.51.100.1, 203.0.113.9, 10.1.1.1"}, 2, "203.0.113.9"},
		{"entries spread over several headers are read as one list", "10.0.0.1:5555", []string{"198.51.100.1", "203.0.113.9"}, 1, "203.0.113.9"},
		{"a header shorter than the proxy chain falls back to the peer", "10.0.0.1:5555", []string{"203.0.113.9"}, 2, "10.0.0.1"},
		{"no header behind a proxy falls back to the peer", "10.0.0.1:5555", nil, 1, "10.0.0.1"},
		{"an entry that is not an IP falls back to the peer", "10.0.0.1:5555", []string{"203.0.113.9, unknown"}, 1, "10.0.0.1"},
		{"an entry with a port falls back to the peer", "10.0.0.1:5555", []string{"203.0.113.9:80"}, 1, "10.0.0.1"},
		{"IPv6 clients are grouped by /64", "[2001:db8:1:2:3:4:5:6]:5555", nil, 0, "2001:db8:1:2::/64"},
		{"IPv6 from the header is grouped by /64", "10.0.0.1:5555", []string{"2001:db8:1:2:ffff::1"}, 1, "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6 is the IPv4 address", "[::ffff:192.0.2.1]:5555", nil, 0, "192.0.2.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/exchange", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			assert.Equal(t, c.want, ClientIP(r, c.proxies))
		})
	}
}
