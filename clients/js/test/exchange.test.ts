import { test, describe } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";

import {
  BridgeError,
  SERVER_ERROR_CODES,
  exchangeSession,
  signInWithDescopeSession,
  type FetchLike,
  type ResponseLike,
  type ServerErrorCode,
} from "../src/index.js";

// Looks like a JWT so that a leak into a message would be easy to spot.
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl";
const BRIDGE = "https://bridge.test";

interface Sent {
  url: string;
  init: Parameters<FetchLike>[1];
}

/** A fetch that answers every call with one canned response and keeps what it was sent. */
function fakeFetch(status: number, body: string): { fetch: FetchLike; sent: Sent[] } {
  const sent: Sent[] = [];
  const fetch: FetchLike = async (url, init) => {
    sent.push({ url, init });
    const res: ResponseLike = { status, ok: status >= 200 && status < 300, text: async () => body };
    return res;
  };
  return { fetch, sent };
}

function errorBody(code: string, message = "constant message"): string {
  return JSON.stringify({ error: { code, message } });
}

/** Runs fn, requires it to reject with a BridgeError, and returns that error. */
async function bridgeError(fn: () => Promise<unknown>): Promise<BridgeError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof BridgeError, `want BridgeError, got ${String(err)}`);
    assert.ok(!err.message.includes(JWT), "the session token leaked into the error message");
    return err;
  }
  assert.fail("want a rejection, got success");
}

// The statuses the bridge uses; the helper must not depend on them, only on the code.
const statusOf: Record<ServerErrorCode, number> = {
  missing_token: 401,
  malformed_token: 401,
  token_too_large: 413,
  unsupported_algorithm: 401,
  unsupported_header: 401,
  unknown_key: 401,
  invalid_signature: 401,
  token_expired: 401,
  token_not_yet_valid: 401,
  missing_expiry: 401,
  invalid_claims: 401,
  wrong_project: 401,
  wrong_audience: 401,
  not_session_token: 401,
  missing_user_id: 401,
  uid_too_long: 422,
  uid_unavailable: 409,
  claims_too_large: 422,
  email_not_verified: 403,
  ambiguous_account: 409,
  tenant_not_mapped: 403,
  tenant_not_selected: 403,
  policy_denied: 403,
  user_disabled: 403,
  user_removed: 403,
  account_email_not_verified: 403,
  role_required: 403,
  permission_required: 403,
  tenant_required: 403,
  auth_method_required: 403,
  session_too_old: 403,
  bad_request: 400,
  missing_bearer_scheme: 401,
  ambiguous_token: 400,
  unsupported_media_type: 415,
  request_too_large: 413,
  request_timeout: 408,
  event_too_large: 413,
  method_not_allowed: 405,
  not_found: 404,
  rate_limited: 429,
  unauthorized: 401,
  keys_unavailable: 503,
  busy: 503,
  signing_unavailable: 503,
  signing_failed: 500,
  upstream_error: 502,
  internal_error: 500,
};

describe("exchangeSession", () => {
  test("a 200 from the bridge becomes a custom token, uid and expiry", async () => {
    const { fetch, sent } = fakeFetch(
      200,
      JSON.stringify({ externalToken: "custom-token", uid: "u1", expiresAt: 1_900_000_000 }),
    );
    const got = await exchangeSession({ bridgeUrl: BRIDGE, sessionJwt: JWT, fetch });
    assert.deepEqual(got, { customToken: "custom-token", uid: "u1", expiresAt: 1_900_000_000 });

    assert.equal(sent.length, 1);
    const req = sent[0]!;
    assert.equal(req.url, "https://bridge.test/exchange");
    assert.equal(req.init.method, "POST");
    assert.equal(req.init.headers.Authorization, `Bearer ${JWT}`);
    assert.equal(req.init.credentials, "omit", "cookies must not ride along to the bridge");
    assert.equal(req.init.redirect, "error", "a redirect must not carry the token elsewhere");
  });

  test("trailing slashes on the bridge URL are ignored, and a path prefix is kept", async () => {
    const { fetch, sent } = fakeFetch(200, JSON.stringify({ externalToken: "t", uid: "u", expiresAt: 1 }));
    await exchangeSession({ bridgeUrl: "https://example.com/auth//", sessionJwt: JWT, fetch });
    assert.equal(sent[0]!.url, "https://example.com/auth/exchange");
  });

  test("an empty session is refused before any request is sent", async () => {
    const { fetch, sent } = fakeFetch(200, "{}");
    const err = await bridgeError(() => exchangeSession({ bridgeUrl: BRIDGE, sessionJwt: "", fetch }));
    assert.equal(err.code, "missing_token");
    assert.equal(err.status, undefined);
    assert.equal(sent.length, 0);
  });

  for (const code of SERVER_ERROR_CODES) {
    test(`the bridge's ${code} becomes a BridgeError with that code`, async () => {
      const status = statusOf[code];
      const { fetch } = fakeFetch(status, errorBody(code, `message for ${code}`));
      const err = await bridgeError(() => exchangeSession({ bridgeUrl: BRIDGE, sessionJwt: JWT, fetch }));
      assert.equal(err.code, code);
      assert.equal(err.serverCode, code);
      assert.equal(err.status, status);
      assert.match(err.message, new RegExp(`message for ${code}`));
    });
  }

  test("the helper knows exactly the codes bridge/errors.go defines", async () => {
    // Compiled to dist/test/, so the repo root is four levels up.
    const goFile = new URL("../../../../bridge/errors.go", import.meta.url);
    const src = await readFile(goFile, "utf8");
    const goCodes = [...src.matchAll(/^\s*Code\w+\s+Code\s*=\s*"([a-z_]+)"/gm)].map((m) => m[1]);
    assert.ok(goCodes.length > 20, `found only ${goCodes.length} codes in ${goFile.pathname}`);
    assert.deepEqual([...SERVER_ERROR_CODES].sort(), goCodes.sort());
  });

  test("only transient failures are retryable", async () => {
    const retryable = async (code: string, status: number) => {
      const { fetch } = fakeFetch(status, errorBody(code));
      return (await bridgeError(() => exchangeSession({ bridgeUrl: BRIDGE, sessionJwt: JWT, fetch }))).retryable;
    };
    assert.equal(await retryable("rate_limited", 429), true);
    assert.equal(await retryable("keys_unavailable", 503), true);
    assert.equal(await retryable("token_expired", 401), false);
    assert.equal(await retryable("policy_denied", 403), false);
  });

  test("an error code this version does not know is kept as serverCode", async () => {
    const { fetch } = fakeFetch(403, errorBody("brand_new_refusal", "new"));
    const err = await bridgeError(() => exchangeSession({ bridgeUrl: BRIDGE, sessionJwt: JWT, fetch }));
    assert.equal(err.code, "unknown_error");
    assert.equal(err.serverCode, "brand_new_refusal");
    assert.equal(err.status, 403);
  });

  test("a fetch that throws is a network_error that keeps the cause", async () => {
    const cause = new TypeError("Failed to fetch");
    const fetch: FetchLike = async () => {
      throw cause;
    };
    const err = await bridgeError(() => exchangeSession({ bridgeUrl: BRIDGE, sessionJwt: JWT, fetch }));
    assert.equal(err.code, "network_error");
    assert.equal(err.status, undefined);
    assert.equal(err.cause, cause);
    assert.equal(err.retryable, true);
  });

  test("a body that fails to stream is a network_error", async () => {
    const fetch: FetchLike = async () => ({
      status: 200,
      ok: true,
      text: async () => {
        throw new Error("connection reset");
      },
    });
    const err = await bridgeError(() => exchangeSession({ bridgeUrl: BRIDGE, sessionJwt: JWT, fetch }));
    assert.equal(err.code, "network_error");
  });

  test("a cancelled exchange is aborted, not a network error", async () => {
    const controller = new AbortController();
    const fetch: FetchLike = async (_url, init) => {
      assert.equal(init.signal, controller.signal, "the caller's signal is passed to fetch");
      controller.abort();
      throw new DOMException("aborted", "AbortError");
    };
    const err = await bridgeError(() =>
      exchangeSession({ bridgeUrl: BRIDGE, sessionJwt: JWT, fetch, signal: controller.signal }),
    );
    assert.equal(err.code, "aborted");
  });

  const invalid: Array<{ name: string; status: number; body: string }> = [
    { name: "an HTML error page from a proxy", status: 502, body: "<html>Bad Gateway</html>" },
    { name: "an empty 200", status: 200, body: "" },
    { name: "a 200 without externalToken", status: 200, body: JSON.stringify({ uid: "u1", expiresAt: 1 }) },
    { name: "a 200 with an empty externalToken", status: 200, body: JSON.stringify({ externalToken: "", uid: "u1", expiresAt: 1 }) },
    { name: "a 200 without uid", status: 200, body: JSON.stringify({ externalToken: "t", expiresAt: 1 }) },
    { name: "a 200 with expiresAt as a string", status: 200, body: JSON.stringify({ externalToken: "t", uid: "u1", expiresAt: "1" }) },
    { name: "a 200 that is a JSON array", status: 200, body: "[]" },
    { name: "an error without a code", status: 500, body: JSON.stringify({ error: { message: "x" } }) },
    { name: "an error that is a string", status: 400, body: JSON.stringify({ error: "bad" }) },
    { name: "a JSON null error body", status: 401, body: "null" },
  ];
  for (const c of invalid) {
    test(`${c.name} is an invalid_response`, async () => {
      const { fetch } = fakeFetch(c.status, c.body);
      const err = await bridgeError(() => exchangeSession({ bridgeUrl: BRIDGE, sessionJwt: JWT, fetch }));
      assert.equal(err.code, "invalid_response");
      assert.equal(err.status, c.status);
    });
  }
});

describe("signInWithDescopeSession", () => {
  test("signs in with the custom token the bridge returned", async () => {
    const { fetch } = fakeFetch(200, JSON.stringify({ externalToken: "ct-1", uid: "u1", expiresAt: 5 }));
    const auth = { name: "fake-auth" };
    const signedIn: Array<[typeof auth, string]> = [];
    const signIn = async (a: typeof auth, token: string) => {
      signedIn.push([a, token]);
      return { user: { uid: "u1" } };
    };
    const got = await signInWithDescopeSession(auth, signIn, { bridgeUrl: BRIDGE, sessionJwt: JWT, fetch });
    assert.deepEqual(signedIn, [[auth, "ct-1"]]);
    assert.equal(got.credential.user.uid, "u1");
    assert.equal(got.exchange.uid, "u1");
  });

  test("does not sign in when the bridge refuses", async () => {
    const { fetch } = fakeFetch(401, errorBody("token_expired"));
    let calls = 0;
    const signIn = async () => {
      calls++;
      return {};
    };
    const err = await bridgeError(() => signInWithDescopeSession({}, signIn, { bridgeUrl: BRIDGE, sessionJwt: JWT, fetch }));
    assert.equal(err.code, "token_expired");
    assert.equal(calls, 0);
  });

  test("a Firebase sign-in failure is passed through unchanged", async () => {
    const { fetch } = fakeFetch(200, JSON.stringify({ externalToken: "ct", uid: "u1", expiresAt: 5 }));
    const firebaseErr = Object.assign(new Error("Firebase: invalid custom token"), { code: "auth/invalid-custom-token" });
    await assert.rejects(
      signInWithDescopeSession({}, async () => Promise.reject(firebaseErr), { bridgeUrl: BRIDGE, sessionJwt: JWT, fetch }),
      (err) => err === firebaseErr,
    );
  });
});

describe("exchangeSession over real HTTP with the global fetch", () => {
  test("sends the bearer token and parses both answers", async () => {
    const seen: Array<{ method: string | undefined; url: string | undefined; auth: string | undefined; body: string }> = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
        res.setHeader("Content-Type", "application/json");
        if (req.headers.authorization === `Bearer ${JWT}`) {
          res.end(JSON.stringify({ externalToken: "real-ct", uid: "u1", expiresAt: 42 }));
        } else {
          res.statusCode = 401;
          res.end(errorBody("invalid_signature"));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const bridgeUrl = `http://127.0.0.1:${port}`;

      const ok = await exchangeSession({ bridgeUrl, sessionJwt: JWT });
      assert.deepEqual(ok, { customToken: "real-ct", uid: "u1", expiresAt: 42 });

      const err = await bridgeError(() => exchangeSession({ bridgeUrl, sessionJwt: "other.jwt.value" }));
      assert.equal(err.code, "invalid_signature");
      assert.equal(err.status, 401);

      assert.deepEqual(
        seen.map((s) => [s.method, s.url, s.body]),
        [
          ["POST", "/exchange", ""],
          ["POST", "/exchange", ""],
        ],
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test("a closed port is a network_error", async () => {
    // Bind then close to get a port nothing listens on.
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await bridgeError(() => exchangeSession({ bridgeUrl: `http://127.0.0.1:${port}`, sessionJwt: JWT }));
    assert.equal(err.code, "network_error");
  });
});
