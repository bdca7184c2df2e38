package webhook

import (
	"crypto/sha256"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// deliveries remembers recently handled deliveries by the SHA-256 of their
// bytes, bounded in count and age. Descope's signature carries no timestamp
// or nonce, so a delivery sent twice (a retry, or a replay by whoever
// captured one) is byte-identical: remembering it lets the second one change
// nothing. Beyond the window, replays are still harmless, because lifecycle
// sync re-reads the user from Descope instead of trusting the payload.
//
// The memory is per instance; with several instances a repeat may reach
// another one, where the idempotent operations make it a no-op in effect.
type deliveries struct {
	seen *expirable.LRU[[sha256.Size]byte, struct{}]
}

func newDeliveries(size int, window time.Duration) *deliveries {
	return &deliveries{seen: expirable.NewLRU[[sha256.Size]byte, struct{}](size, nil, window)}
}

// handled reports whether a delivery with this digest was handled within
// the window.
func (d *deliveries) handled(sum [sha256.Size]byte) bool {
	_, ok := d.seen.Peek(sum)
	return ok
}

// remember records a delivery once it has been handled. Failed deliveries
// are never remembered, so Descope's retry of one is processed afresh.
func (d *deliveries) remember(sum [sha256.Size]byte) {
	d.seen.Add(sum, struct{}{})
}
