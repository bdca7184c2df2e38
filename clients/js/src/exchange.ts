// The exchange: a Descope session JWT to dfbridge's POST /exchange, a
// Firebase custom token back, and the bridge's error codes as a typed error.

/**
 * Error codes the bridge sends in `{"error":{"code":...}}`. They are the
 * bridge's public API (bridge/errors.go) and are never renamed.
 */
export const SERVER_ERROR_CODES = [
  // Token presence and shape.
  "missing_token",
  "malformed_token",
  "token_too_large",
  // Token verification.
  "unsupported_algorithm",
  "unsupported_header",
  "unknown_key",
  "invalid_signature",
  "token_expired",
  "token_not_yet_valid",
  "missing_expiry",
  "invalid_claims",
  "wrong_project",
  "wrong_audience",
  "not_session_token",
  "missing_user_id",
  // Mapping.
  "uid_too_long",
  "uid_unavailable",
  "claims_too_large",
  "email_not_verified",
  "ambiguous_account",
  "tenant_not_mapped",
  "tenant_not_selected",
  "policy_denied",
  "user_disabled",
  "user_removed",
  "account_email_not_verified",
  // Policy gates, one code per gate.
  "role_required",
  "permission_required",
  "tenant_required",
  "auth_method_required",
  "session_too_old",
  // Request shape.
  "bad_request",
  "missing_bearer_scheme",
  "ambiguous_token",
  "unsupported_media_type",
  "request_too_large",
  "request_timeout",
  "event_too_large",
  "method_not_allowed",
  "not_found",
  "rate_limited",
  "unauthorized",
  // The bridge's side or upstream.
  "keys_unavailable",
  "busy",
  "signing_failed",
  "signing_unavailable",
  "upstream_error",
  "internal_error",
] as const;

export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

/**
 * Codes this helper adds for failures that never got a bridge answer:
 * - `network_error`: fetch itself failed (offline, DNS, CORS refused, TLS).
 * - `aborted`: the caller's AbortSignal fired.
 * - `invalid_response`: the answer was not the bridge's JSON contract, e.g.
 *   an HTML page from a proxy, or a 200 without a token.
 * - `unknown_error`: a well-formed bridge error with a code this version does
 *   not know yet; the raw code is in `BridgeError.serverCode`.
 */
export type ClientErrorCode =
  | "network_error"
  | "aborted"
  | "invalid_response"
  | "unknown_error";

export type BridgeErrorCode = ServerErrorCode | ClientErrorCode;

const serverCodes: ReadonlySet<string> = new Set(SERVER_ERROR_CODES);

/** Reports whether code is one the bridge documents. */
export function isServerErrorCode(code: string): code is ServerErrorCode {
  return serverCodes.has(code);
}

// Worth one more try after a pause: everything else needs a new session, a
// config change or a support ticket.
const retryableCodes: ReadonlySet<BridgeErrorCode> = new Set<BridgeErrorCode>([
  "network_error",
  "rate_limited",
  "keys_unavailable",
  "busy",
  "signing_unavailable",
  "upstream_error",
  "signing_failed",
  "internal_error",
]);

/**
 * A refused or failed exchange. Branch on `code`; the message is for
 * developers and never contains the session token.
 */
export class BridgeError extends Error {
  override readonly name = "BridgeError";
  readonly code: BridgeErrorCode;
  /** HTTP status of the bridge's answer; undefined when there was none. */
  readonly status: number | undefined;
  /** The code exactly as the bridge sent it, when it sent one. */
  readonly serverCode: string | undefined;

  constructor(
    code: BridgeErrorCode,
    message: string,
    opts: { status?: number; serverCode?: string; cause?: unknown } = {},
  ) {
    super(
      `dfbridge: ${code}: ${message}`,
      opts.cause === undefined ? undefined : { cause: opts.cause },
    );
    this.code = code;
    this.status = opts.status;
    this.serverCode = opts.serverCode;
  }

  /** Whether the same session may succeed if sent again later. */
  get retryable(): boolean {
    return retryableCodes.has(this.code);
  }
}

/**
 * The part of fetch this helper uses. Typed structurally so that the DOM's,
 * React Native's and Node's fetch all fit, and tests can pass a fake.
 */
export type FetchLike = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    signal?: AbortSignalLike;
    credentials?: "omit";
    cache?: "no-store";
    redirect?: "error";
  },
) => Promise<ResponseLike>;

export interface ResponseLike {
  readonly status: number;
  readonly ok: boolean;
  text(): Promise<string>;
}

export interface AbortSignalLike {
  readonly aborted: boolean;
}

export interface ExchangeOptions {
  /** Base URL of the bridge, e.g. `https://auth.example.com`. */
  bridgeUrl: string;
  /** The Descope session JWT (not the refresh JWT). */
  sessionJwt: string;
  /** Defaults to the global fetch. */
  fetch?: FetchLike;
  signal?: AbortSignalLike;
}

export interface ExchangeResult {
  /** A Firebase custom token for `signInWithCustomToken`. */
  customToken: string;
  /** The Firebase UID the token signs in as. */
  uid: string;
  /** When the custom token stops being accepted, in Unix seconds. */
  expiresAt: number;
}

/** Sends the session to the bridge's `POST /exchange`. */
export async function exchangeSession(opts: ExchangeOptions): Promise<ExchangeResult> {
  if (opts.sessionJwt === "") {
    // The bridge would say the same; don't spend a request on it.
    throw new BridgeError("missing_token", "no session JWT to exchange");
  }
  const doFetch = opts.fetch ?? defaultFetch();
  const url = `${opts.bridgeUrl.replace(/\/+$/, "")}/exchange`;

  let res: ResponseLike;
  let body: string;
  try {
    res = await doFetch(url, {
      method: "POST",
      // The header keeps the token out of bodies that proxies may log, and
      // needs no JSON body, so the request is as small as it can be.
      headers: { Authorization: `Bearer ${opts.sessionJwt}`, Accept: "application/json" },
      credentials: "omit",
      cache: "no-store",
      // A redirect would be a misconfigured bridge URL; don't follow it
      // with a token attached.
      redirect: "error",
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    body = await res.text();
  } catch (err) {
    if (opts.signal?.aborted) {
      throw new BridgeError("aborted", "the exchange was cancelled", { cause: err });
    }
    throw new BridgeError("network_error", "could not reach the bridge", { cause: err });
  }

  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new BridgeError("invalid_response", `HTTP ${res.status} with a body that is not JSON`, {
      status: res.status,
      cause: err,
    });
  }

  if (!res.ok) {
    throw errorFromBody(res.status, json);
  }
  if (
    isRecord(json) &&
    typeof json.externalToken === "string" &&
    json.externalToken !== "" &&
    typeof json.uid === "string" &&
    json.uid !== "" &&
    typeof json.expiresAt === "number" &&
    Number.isFinite(json.expiresAt)
  ) {
    return { customToken: json.externalToken, uid: json.uid, expiresAt: json.expiresAt };
  }
  throw new BridgeError("invalid_response", `HTTP ${res.status} without externalToken, uid and expiresAt`, {
    status: res.status,
  });
}

/**
 * Exchanges the session and signs in to Firebase with the result. The
 * sign-in function is passed in so this works with the Firebase JS SDK
 * (`signInWithCustomToken` from "firebase/auth") and with React Native
 * Firebase's modular API alike.
 */
export async function signInWithDescopeSession<Auth, Credential>(
  auth: Auth,
  signInWithCustomToken: (auth: Auth, customToken: string) => Promise<Credential>,
  opts: ExchangeOptions,
): Promise<{ credential: Credential; exchange: ExchangeResult }> {
  const exchange = await exchangeSession(opts);
  const credential = await signInWithCustomToken(auth, exchange.customToken);
  return { credential, exchange };
}

function errorFromBody(status: number, json: unknown): BridgeError {
  const err = isRecord(json) ? json.error : undefined;
  if (!isRecord(err) || typeof err.code !== "string" || err.code === "") {
    return new BridgeError("invalid_response", `HTTP ${status} without an error code`, { status });
  }
  const message = typeof err.message === "string" ? err.message : "";
  if (isServerErrorCode(err.code)) {
    return new BridgeError(err.code, message, { status, serverCode: err.code });
  }
  return new BridgeError("unknown_error", `${err.code}: ${message}`, { status, serverCode: err.code });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function defaultFetch(): FetchLike {
  // Each platform types its own fetch more strictly than FetchLike (a real
  // AbortSignal, say); callers pass their platform's values, so this is safe.
  const f = (globalThis as unknown as { fetch?: FetchLike }).fetch;
  if (!f) {
    throw new BridgeError("network_error", "no global fetch; pass one in options.fetch");
  }
  // Bound so that browsers don't throw "Illegal invocation".
  return f.bind(globalThis);
}
