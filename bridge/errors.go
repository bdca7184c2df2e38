package bridge

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, snake_case error code that clients may branch on. The
// HTTP layer maps each code to a status in one table.
type Code string

// Codes for refusals. They are part of the public API: never rename one.
const (
	// Token presence and shape.
	CodeMissingToken Code = "missing_token"
	// CodeMissingBearer: an Authorization header holding a bare JWT, with
	// no "Bearer " in front of it.
	CodeMissingBearer Code = "missing_bearer_scheme"
	// CodeAmbiguousToken: a bearer token and a sessionJwt in the body.
	CodeAmbiguousToken Code = "ambiguous_token"
	CodeMalformedToken Code = "malformed_token"
	CodeTokenTooLarge  Code = "token_too_large"

	// Token verification.
	CodeUnsupportedAlgorithm Code = "unsupported_algorithm"
	CodeUnsupportedHeader    Code = "unsupported_header"
	CodeUnknownKey           Code = "unknown_key"
	CodeInvalidSignature     Code = "invalid_signature"
	CodeTokenExpired         Code = "token_expired"
	CodeTokenNotYetValid     Code = "token_not_yet_valid" //nolint:gosec // G101: error code names, not credentials
	CodeMissingExpiry        Code = "missing_expiry"
	CodeInvalidClaims        Code = "invalid_claims"
	CodeWrongProject         Code = "wrong_project"
	// CodeWrongAudience: DESCOPE_ALLOWED_AUDIENCES is set and the token's
	// aud names none of them (an access token of another application).
	CodeWrongAudience   Code = "wrong_audience"
	CodeNotSessionToken Code = "not_session_token"
	CodeMissingUserID   Code = "missing_user_id"

	// Mapping.
	CodeUIDTooLong       Code = "uid_too_long"
	CodeUIDUnavailable   Code = "uid_unavailable"
	CodeClaimsTooLarge   Code = "claims_too_large"
	CodeEmailNotVerified Code = "email_not_verified"
	CodeAmbiguousAccount Code = "ambiguous_account"
	CodeTenantNotMapped  Code = "tenant_not_mapped"
	// CodeTenantNotSelected: the session is in several tenants, names no
	// current one (dct), and the mapping needs one.
	CodeTenantNotSelected Code = "tenant_not_selected"
	CodePolicyDenied      Code = "policy_denied"
	CodeUserDisabled      Code = "user_disabled"
	// CodeUserRemoved: Descope deleted or disabled the user, and the bridge
	// has been told (an audit event, reconcile, a management look-up or a
	// connector call). It holds for LIFECYCLE_REMOVED_TTL, or until Descope
	// enables the user again.
	CodeUserRemoved Code = "user_removed"
	// CodeAccountEmailNotVerified: migration matched an existing Firebase
	// account whose own email is unverified, so linking could hand a
	// pre-registered account to whoever controls the Descope email.
	CodeAccountEmailNotVerified Code = "account_email_not_verified"

	// Policy gates, one code per gate so clients and logs say which failed.
	CodeRoleRequired       Code = "role_required"
	CodePermissionRequired Code = "permission_required"
	CodeTenantRequired     Code = "tenant_required"
	CodeAuthMethodRequired Code = "auth_method_required"
	CodeSessionTooOld      Code = "session_too_old"

	// Request shape.
	CodeBadRequest           Code = "bad_request"
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	CodeRequestTooLarge      Code = "request_too_large"
	// CodeRequestTimeout: the body did not arrive within its deadline.
	CodeRequestTimeout Code = "request_timeout"
	// CodeEventTooLarge: an audit event names more users than the
	// lifecycle queue can ever hold (LIFECYCLE_QUEUE_SIZE).
	CodeEventTooLarge    Code = "event_too_large"
	CodeMethodNotAllowed Code = "method_not_allowed"
	CodeNotFound         Code = "not_found"
	CodeRateLimited      Code = "rate_limited"
	CodeUnauthorized     Code = "unauthorized"

	// Our side or upstream.
	CodeKeysUnavailable Code = "keys_unavailable"
	CodeSigningFailed   Code = "signing_failed"
	// CodeSigningUnavailable is keyless signing that IAM cannot do now
	// (quota, outage, the breaker open); retry after Retry-After.
	CodeSigningUnavailable Code = "signing_unavailable"
	CodeUpstream           Code = "upstream_error"
	// CodeBusy is a webhook delivery the lifecycle queue cannot take now
	// (full, unreachable or shutting down); the sender should retry.
	CodeBusy     Code = "busy"
	CodeInternal Code = "internal_error"
)

// Error is a refusal or failure with a stable code. Detail is for logs only
// and must never contain a token, key or secret; clients see the code and a
// constant message chosen by the HTTP layer.
type Error struct {
	Code   Code
	Detail string
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.Detail != "" && e.Err != nil:
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Detail, e.Err)
	case e.Detail != "":
		return fmt.Sprintf("%s: %s", e.Code, e.Detail)
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", e.Code, e.Err)
	}
	return string(e.Code)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted log detail.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Wrap builds an *Error around a cause.
func Wrap(code Code, err error, detail string) *Error {
	return &Error{Code: code, Detail: detail, Err: err}
}

// CodeOf returns the code of err, or CodeInternal when err carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// RateLimitError is the cause inside a CodeRateLimited refusal. It carries
// when to retry, so the HTTP layer can say so in Retry-After.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return "rate limited; retry in " + e.RetryAfter.Round(time.Millisecond).String()
}

// RateLimited returns the refusal for a key that l turned away.
func RateLimited(retryAfter time.Duration, detail string) *Error {
	return Wrap(CodeRateLimited, &RateLimitError{RetryAfter: retryAfter}, detail)
}
