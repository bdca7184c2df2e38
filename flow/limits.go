package flow

import (
	"context"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
)

// Limiter admits or refuses one more event for a key. When it refuses,
// retryAfter says how long until the key is admitted again.
type Limiter interface {
	Allow(key string) (ok bool, retryAfter time.Duration)
}

// LimitUsers returns a Verifier that admits each user's verified sessions at
// l's rate. It runs after verification, so the key is a user Descope vouched
// for, not something a caller can vary at will; it stops one stolen or
// looping session from minting tokens (and, keyless, spending IAM signing
// quota) without bound. Sessions past the limit are refused with
// CodeRateLimited before any mapping or minting.
func LimitUsers(v bridge.Verifier, l Limiter) bridge.Verifier {
	return LimitExchanges(v, perUser{l})
}

// perUser is a Limiter keyed by user, as an ExchangeLimiter.
type perUser struct{ l Limiter }

func (p perUser) AllowExchange(_ context.Context, _, userID string) (bool, time.Duration, string) {
	ok, wait := p.l.Allow(userID)
	return ok, wait, "user"
}

// ExchangeLimiter admits one exchange by a verified user from a client
// address against limits shared by every instance (Redis). scope names the
// limit that refused: "client" or "user".
type ExchangeLimiter interface {
	AllowExchange(ctx context.Context, client, userID string) (ok bool, retryAfter time.Duration, scope string)
}

type clientAddrKey struct{}

// WithClientAddr records the address a request is limited by, for limits
// checked after verification.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddr is the address WithClientAddr recorded, or "".
func ClientAddr(ctx context.Context) string {
	s, _ := ctx.Value(clientAddrKey{}).(string)
	return s
}

// LimitExchanges returns a Verifier that admits each verified session
// through l: the per-address and per-user limits of every instance at once,
// checked together once the user is known.
func LimitExchanges(v bridge.Verifier, l ExchangeLimiter) bridge.Verifier {
	return sharedLimitVerifier{next: v, limit: l}
}

type sharedLimitVerifier struct {
	next  bridge.Verifier
	limit ExchangeLimiter
}

func (v sharedLimitVerifier) Verify(ctx context.Context, token string) (*bridge.Session, error) {
	s, err := v.next.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if ok, wait, scope := v.limit.AllowExchange(ctx, ClientAddr(ctx), s.UserID); !ok {
		if scope == "client" {
			return nil, bridge.RateLimited(wait, "client is over the per-address limit")
		}
		return nil, bridge.RateLimited(wait, "user "+s.UserID+" is over the per-user exchange limit")
	}
	return s, nil
}
