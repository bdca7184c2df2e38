package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
)

// errorInfo is what a client sees for a code: a status and a constant,
// safe message. Details stay in the log.
type errorInfo struct {
	status  int
	message string
}

// errorTable is the one place codes become statuses.
var errorTable = map[bridge.Code]errorInfo{
	bridge.CodeMissingToken:         {http.StatusUnauthorized, "A Descope session token is required."},
	bridge.CodeMissingBearer:        {http.StatusUnauthorized, "The Authorization header must be \"Bearer <session JWT>\": add \"Bearer \" before the token."},
	bridge.CodeAmbiguousToken:       {http.StatusBadRequest, "The session token was sent both as a bearer token and as sessionJwt in the body; send it once."},
	bridge.CodeMalformedToken:       {http.StatusUnauthorized, "The session token is not a well-formed JWT."},
	bridge.CodeTokenTooLarge:        {http.StatusRequestEntityTooLarge, "The session token is too large."},
	bridge.CodeUnsupportedAlgorithm: {http.StatusUnauthorized, "The session token's algorithm is not accepted."},
	bridge.CodeUnsupportedHeader:    {http.StatusUnauthorized, "The session token carries a header that is not accepted."},
	bridge.CodeUnknownKey:           {http.StatusUnauthorized, "The session token is not signed by a key of this project."},
	bridge.CodeInvalidSignature:     {http.StatusUnauthorized, "The session token's signature is not valid."},
	bridge.CodeTokenExpired:         {http.StatusUnauthorized, "The session token has expired."},
	bridge.CodeTokenNotYetValid:     {http.StatusUnauthorized, "The session token is not valid yet."},
	bridge.CodeMissingExpiry:        {http.StatusUnauthorized, "The session token has no expiry."},
	bridge.CodeInvalidClaims:        {http.StatusUnauthorized, "The session token's claims are not valid."},
	bridge.CodeWrongProject:         {http.StatusUnauthorized, "The session token was issued for another project."},
	bridge.CodeWrongAudience:        {http.StatusUnauthorized, "The token was issued to another application."},
	bridge.CodeNotSessionToken:      {http.StatusUnauthorized, "The token is not a Descope session token."},
	bridge.CodeMissingUserID:        {http.StatusUnauthorized, "The session token names no user."},

	bridge.CodeUIDTooLong:       {http.StatusBadRequest, "The mapped Firebase UID is longer than Firebase allows (128 bytes)."},
	bridge.CodeUIDUnavailable:   {http.StatusBadRequest, "The session holds no value for the configured Firebase UID."},
	bridge.CodeClaimsTooLarge:   {http.StatusBadRequest, "The mapped custom claims exceed Firebase's 1000-byte limit."},
	bridge.CodeEmailNotVerified: {http.StatusForbidden, "The email is not verified, so it cannot be linked to an existing account."},
	bridge.CodeAmbiguousAccount: {http.StatusConflict, "More than one existing account matches; it cannot be linked."},
	bridge.CodeTenantNotMapped:  {http.StatusForbidden, "The session's tenant is not mapped to a Firebase tenant."},
	bridge.CodeTenantNotSelected: {http.StatusForbidden,
		"The session is in several tenants and names no current one; select a tenant, then exchange the refreshed session."},
	bridge.CodePolicyDenied: {http.StatusForbidden, "The session does not meet the sign-in policy."},
	bridge.CodeUserDisabled: {http.StatusForbidden, "The user is disabled."},
	bridge.CodeUserRemoved:  {http.StatusForbidden, "The user was deleted or disabled at Descope."},
	bridge.CodeAccountEmailNotVerified: {http.StatusForbidden,
		"The existing account's email is not verified, so it cannot be linked."},

	bridge.CodeRoleRequired:       {http.StatusForbidden, "The sign-in policy requires a role the session does not have."},
	bridge.CodePermissionRequired: {http.StatusForbidden, "The sign-in policy requires a permission the session does not have."},
	bridge.CodeTenantRequired:     {http.StatusForbidden, "The sign-in policy requires membership in a tenant."},
	bridge.CodeAuthMethodRequired: {http.StatusForbidden, "The sign-in policy requires an authentication method the session did not use."},
	bridge.CodeSessionTooOld:      {http.StatusForbidden, "The sign-in policy requires a more recent authentication."},

	bridge.CodeBadRequest:           {http.StatusBadRequest, "The request is not valid."},
	bridge.CodeUnsupportedMediaType: {http.StatusUnsupportedMediaType, "The request body must be application/json."},
	bridge.CodeRequestTooLarge:      {http.StatusRequestEntityTooLarge, "The request body is too large."},
	bridge.CodeRequestTimeout:       {http.StatusRequestTimeout, "The request body did not arrive in time."},
	bridge.CodeEventTooLarge: {http.StatusRequestEntityTooLarge,
		"An audit event names more users than the lifecycle queue can hold; raise LIFECYCLE_QUEUE_SIZE."},
	bridge.CodeMethodNotAllowed: {http.StatusMethodNotAllowed, "The method is not allowed on this route."},
	bridge.CodeNotFound:         {http.StatusNotFound, "No such route."},
	bridge.CodeRateLimited:      {http.StatusTooManyRequests, "Too many requests; retry later."},
	bridge.CodeUnauthorized:     {http.StatusUnauthorized, "The request is not authenticated."},

	bridge.CodeKeysUnavailable:    {http.StatusServiceUnavailable, "Descope signing keys are unavailable; retry later."},
	bridge.CodeSigningFailed:      {http.StatusBadGateway, "The Firebase token could not be signed; retry later."},
	bridge.CodeUpstream:           {http.StatusBadGateway, "An upstream service failed; retry later."},
	bridge.CodeBusy:               {http.StatusServiceUnavailable, "The service cannot take this work now; retry later."},
	bridge.CodeSigningUnavailable: {http.StatusServiceUnavailable, "The Firebase token cannot be signed right now; retry later."},
	bridge.CodeInternal:           {http.StatusInternalServerError, "Internal error."},
}

// CodeClientClosed labels, in logs and metrics only, a request whose client
// went away before it was answered (nginx's 499). No client ever sees it.
const CodeClientClosed = "client_closed_request"

// StatusClientClosed is what the access metrics record for such a request.
const StatusClientClosed = 499

// errClientGone marks a body read that failed because the client stopped
// sending: the connection closed or reset mid-body.
var errClientGone = errors.New("client closed the connection")

// ClientClosed reports whether err means the client hung up: its request's
// context is cancelled, or the body could not be read to its end.
func ClientClosed(r *http.Request, err error) bool {
	if errors.Is(err, errClientGone) {
		return true
	}
	return errors.Is(err, context.Canceled) && r.Context().Err() != nil
}

// StatusOf returns the HTTP status for code.
func StatusOf(code bridge.Code) int {
	if info, ok := errorTable[code]; ok {
		return info.status
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    bridge.Code `json:"code"`
	Message string      `json:"message"`
}

// WriteError answers err in the API's error shape and logs it: client errors
// at Warn, ours at Error. The log carries err's detail, the client does not.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if ClientClosed(r, err) {
		// Nobody is reading the answer: not a bad request, not our fault.
		log.LogAttrs(r.Context(), slog.LevelInfo, "client closed request",
			slog.String("code", CodeClientClosed), slog.String("error", err.Error()))
		w.WriteHeader(StatusClientClosed)
		return
	}
	code := bridge.CodeOf(err)
	info, ok := errorTable[code]
	if !ok {
		info = errorTable[bridge.CodeInternal]
		code = bridge.CodeInternal
	}
	level := slog.LevelWarn
	if info.status >= 500 {
		level = slog.LevelError
	}
	log.LogAttrs(r.Context(), level, "request refused",
		slog.String("code", string(code)), slog.Int("status", info.status), slog.String("error", err.Error()))
	switch code {
	case bridge.CodeRateLimited:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(err)))
	case bridge.CodeKeysUnavailable, bridge.CodeBusy, bridge.CodeSigningUnavailable:
		w.Header().Set("Retry-After", "5")
	case bridge.CodeRequestTimeout:
		w.Header().Set("Connection", "close") // its body can no longer be read
	}
	writeJSON(w, info.status, errorBody{Error: errorDetail{Code: code, Message: info.message}})
}

// retryAfterSeconds is the Retry-After value for a rate-limit refusal: the
// wait its cause names, rounded up to whole seconds, at least 1.
func retryAfterSeconds(err error) int {
	var rl *bridge.RateLimitError
	if errors.As(err, &rl) && rl.RetryAfter > time.Second {
		return int(math.Ceil(rl.RetryAfter.Seconds()))
	}
	return 1
}
