package flow

import (
	"context"
	"errors"

	"github.com/dfbridge/dfbridge/bridge"
)

// SignQueue lets at most n signatures run at once and makes the rest wait
// their turn, first come first served. Signing with a local key is pure CPU:
// with more signatures than cores running, every one of them is slowed by
// the others and the scheduler's order decides who finishes last, so the
// slowest requests wait many times the median. Queued in arrival order, each
// waits only for those ahead of it. Keyless signing waits on the network
// instead, and should not be queued this way.
type SignQueue struct {
	next  bridge.Minter
	slots chan struct{}
}

var _ bridge.Minter = (*SignQueue)(nil)

// NewSignQueue wraps next so that at most n of its Mint calls run at once;
// n is normally the number of cores the process may use.
func NewSignQueue(next bridge.Minter, n int) (*SignQueue, error) {
	if n < 1 {
		return nil, errors.New("sign queue needs at least one slot")
	}
	return &SignQueue{next: next, slots: make(chan struct{}, n)}, nil
}

// Mint waits for a slot, in arrival order (a channel's waiting senders are
// served first in, first out), then mints. A caller that gives up while
// waiting leaves the queue with its context's error.
func (q *SignQueue) Mint(ctx context.Context, id bridge.Identity) (*bridge.CustomToken, error) {
	select {
	case q.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-q.slots }()
	return q.next.Mint(ctx, id)
}
