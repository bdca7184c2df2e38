import { test, describe } from "node:test";
import assert from "node:assert/strict";

import {
  BridgeError,
  bindFirebaseSession,
  claimsFingerprint,
  type FetchLike,
  type ResponseLike,
} from "../src/index.js";

const BRIDGE = "https://bridge.test";

/** An unsigned JWT with these claims: the binding reads, never verifies. */
function jwt(claims: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${b64({ alg: "RS256", kid: "k1" })}.${b64(claims)}.c2ln`;
}

let clock = 1_800_000_000;
function session(sub: string, extra: Record<string, unknown> = {}): string {
  clock += 60; // every refresh is a new token: new iat and exp
  return jwt({ sub, iat: clock, exp: clock + 600, drn: "DS", ...extra });
}

/** Firebase Auth in memory: a custom token "ct:<uid>" signs in as uid. */
class FakeAuth {
  currentUser: { uid: string } | null = null;
  signIns = 0;
  signOuts = 0;
  refuse: { code: string } | null = null;
  listeners = new Set<(u: { uid: string } | null) => void>();
  signInWithCustomToken = async (auth: FakeAuth, token: string) => {
    if (auth.refuse) throw Object.assign(new Error(auth.refuse.code), auth.refuse);
    auth.signIns++;
    auth.set({ uid: token.replace(/^ct:/, "") });
  };
  signOut = async (auth: FakeAuth) => {
    auth.signOuts++;
    auth.set(null);
  };
  onAuthStateChanged = (auth: FakeAuth, next: (u: { uid: string } | null) => void) => {
    auth.listeners.add(next);
    return () => auth.listeners.delete(next);
  };
  set(u: { uid: string } | null) {
    this.currentUser = u;
    for (const l of this.listeners) l(u);
  }
}

/** The bridge in memory: maps sub to uid "fb-<sub>", or answers an error. */
function fakeBridge() {
  const state = { calls: 0, tokens: [] as string[], fail: [] as Array<{ status: number; code: string }>, gate: null as Promise<void> | null };
  const fetch: FetchLike = async (_url, init) => {
    state.calls++;
    if (state.gate) await state.gate;
    const token = init.headers.Authorization!.replace(/^Bearer /, "");
    state.tokens.push(token);
    const f = state.fail.shift();
    const res = (status: number, body: unknown): ResponseLike => ({
      status,
      ok: status < 300,
      text: async () => JSON.stringify(body),
    });
    if (f) return res(f.status, { error: { code: f.code, message: "m" } });
    const sub = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).sub as string;
    return res(200, { externalToken: `ct:fb-${sub}`, uid: `fb-${sub}`, expiresAt: clock + 3600 });
  };
  return { fetch, state };
}

function setup(overrides: { token?: string | null } = {}) {
  const auth = new FakeAuth();
  const bridge = fakeBridge();
  const errors: unknown[] = [];
  const current = { token: overrides.token ?? null as string | null };
  const listeners = new Set<() => void>();
  const logouts = { n: 0 };
  const binding = bindFirebaseSession({
    bridgeUrl: BRIDGE,
    auth,
    signInWithCustomToken: auth.signInWithCustomToken,
    signOut: auth.signOut,
    getSessionToken: () => current.token,
    subscribe: (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    onAuthStateChanged: auth.onAuthStateChanged,
    descopeLogout: async () => {
      logouts.n++;
      current.token = null;
    },
    onError: (err) => errors.push(err),
    fetch: bridge.fetch,
    backoffMs: 1,
  });
  return { auth, bridge, errors, current, listeners, logouts, binding };
}

describe("bindFirebaseSession", () => {
  test("no Descope session signs Firebase out", async () => {
    const { auth, binding } = setup();
    auth.set({ uid: "someone" });
    const r = await binding.sync();
    assert.equal(r.status, "signed_out");
    assert.equal(auth.currentUser, null);
    assert.equal(auth.signOuts, 1);
  });

  test("a Descope session signs in to Firebase through one exchange", async () => {
    const { auth, bridge, current, binding } = setup();
    current.token = session("U1", { roles: ["viewer"] });
    const r = await binding.sync();
    assert.deepEqual(r, { status: "signed_in", uid: "fb-U1", exchanged: true });
    assert.equal(auth.currentUser?.uid, "fb-U1");
    assert.equal(bridge.state.calls, 1);
  });

  test("a refreshed session with unchanged claims makes no request", async () => {
    const { auth, bridge, current, binding } = setup();
    current.token = session("U1", { roles: ["viewer", "editor"], tenants: { T1: { roles: ["a"] } } });
    await binding.sync();
    current.token = session("U1", { roles: ["editor", "viewer"], tenants: { T1: { roles: ["a"] } } });
    const r = await binding.sync();
    assert.deepEqual(r, { status: "unchanged", uid: "fb-U1", exchanged: false });
    assert.equal(bridge.state.calls, 1, "no request for a refresh");
    assert.equal(auth.signIns, 1, "no new Firebase sign-in");
  });

  test("changed claims exchange again, so the ID token carries them", async () => {
    const { auth, bridge, current, binding } = setup();
    current.token = session("U1", { roles: ["viewer"] });
    await binding.sync();
    for (const change of [{ roles: ["viewer", "admin"] }, { roles: ["viewer", "admin"], permissions: ["p"] }, { roles: ["viewer", "admin"], permissions: ["p"], dct: "T2" }]) {
      current.token = session("U1", change);
      const r = await binding.sync();
      assert.equal(r.status, "signed_in", JSON.stringify(change));
    }
    assert.equal(bridge.state.calls, 4);
    assert.equal(auth.signIns, 4);
  });

  test("another user's session exchanges, even with the same claims", async () => {
    const { auth, current, binding } = setup();
    current.token = session("U1", { roles: ["viewer"] });
    await binding.sync();
    current.token = session("U2", { roles: ["viewer"] });
    assert.equal((await binding.sync()).uid, "fb-U2");
    assert.equal(auth.currentUser?.uid, "fb-U2");
  });

  test("a stopped binding does nothing", async () => {
    const { auth, bridge, current, binding } = setup();
    current.token = session("U1");
    await binding.sync();
    binding.stop(); // no listener: only the next sync sees it
    auth.currentUser = null;
    assert.equal((await binding.sync()).status, "unchanged", "a stopped binding does nothing");
    assert.equal(bridge.state.calls, 1);
  });

  test("concurrent syncs share one exchange", async () => {
    const { bridge, current, binding } = setup();
    current.token = session("U1");
    let open!: () => void;
    bridge.state.gate = new Promise((r) => (open = r));
    const runs = [binding.sync(), binding.sync(), binding.sync()];
    open();
    const results = await Promise.all(runs);
    assert.equal(bridge.state.calls, 1);
    for (const r of results) assert.equal(r.status, "signed_in");
  });

  test("a retryable bridge error is retried with backoff", async () => {
    const { bridge, current, binding, errors } = setup();
    current.token = session("U1");
    bridge.state.fail.push({ status: 503, code: "keys_unavailable" }, { status: 429, code: "rate_limited" });
    const r = await binding.sync();
    assert.equal(r.status, "signed_in");
    assert.equal(bridge.state.calls, 3);
    assert.equal(errors.length, 0);
  });

  test("a retryable error that outlasts the retries leaves Firebase as it is and reports", async () => {
    const { auth, bridge, current, binding, errors } = setup();
    current.token = session("U1");
    await binding.sync();
    current.token = session("U1", { roles: ["new"] });
    bridge.state.fail.push(...Array(3).fill({ status: 502, code: "upstream_error" }));
    const r = await binding.sync();
    assert.equal(r.status, "error");
    assert.equal(auth.currentUser?.uid, "fb-U1", "still signed in");
    assert.equal((errors[0] as BridgeError).code, "upstream_error");
  });

  test("Firebase reports the account revoked: one exchange with the current session", async () => {
    const { auth, bridge, current, binding } = setup();
    current.token = session("U1");
    await binding.sync();
    auth.set(null); // the SDK's refresh failed with auth/user-token-expired and signed out
    await waitFor(() => bridge.state.calls === 2);
    assert.equal(auth.currentUser?.uid, "fb-U1", "signed in again with the same Descope session");
  });

  test("Firebase reports the account disabled and the bridge refuses: signed out, onError gets the BridgeError", async () => {
    const { auth, bridge, current, binding, errors } = setup();
    current.token = session("U1");
    await binding.sync();
    bridge.state.fail.push({ status: 403, code: "user_disabled" });
    const r = await binding.handleFirebaseError({ code: "auth/user-disabled" });
    assert.equal(r?.status, "error");
    assert.equal(auth.currentUser, null);
    assert.ok(errors[0] instanceof BridgeError);
    assert.equal((errors[0] as BridgeError).code, "user_disabled");
    const again = await binding.sync();
    assert.equal(again.status, "error", "the refusal stands");
    assert.equal(again.exchanged, false, "the refused session is not tried again");
    assert.equal(errors.length, 1, "and not reported twice");
    assert.equal(bridge.state.calls, 2);
  });

  test("Firebase refusing the custom token (a disabled account) signs out and reports Firebase's error", async () => {
    const { auth, current, binding, errors } = setup();
    current.token = session("U1");
    auth.refuse = { code: "auth/user-disabled" };
    const r = await binding.sync();
    assert.equal(r.status, "error");
    assert.equal(auth.currentUser, null);
    assert.equal((errors[0] as { code: string }).code, "auth/user-disabled");
  });

  test("other Firebase errors are not the binding's", async () => {
    const { binding } = setup();
    assert.equal(await binding.handleFirebaseError({ code: "auth/network-request-failed" }), undefined);
    assert.equal(await binding.handleFirebaseError(new Error("x")), undefined);
  });

  test("an expired session is refreshed once and exchanged again", async () => {
    const auth = new FakeAuth();
    const bridge = fakeBridge();
    let token = session("U1");
    let refreshes = 0;
    const binding = bindFirebaseSession({
      bridgeUrl: BRIDGE, auth, signInWithCustomToken: auth.signInWithCustomToken, signOut: auth.signOut,
      getSessionToken: () => token,
      refreshSession: async () => {
        refreshes++;
        token = session("U1");
      },
      fetch: bridge.fetch,
    });
    bridge.state.fail.push({ status: 401, code: "token_expired" });
    assert.equal((await binding.sync()).status, "signed_in");
    assert.equal(refreshes, 1);
    assert.equal(bridge.state.tokens[1], token, "the refreshed token was exchanged");
  });

  test("signOut ends both sessions, Descope's first", async () => {
    const { auth, current, binding, logouts } = setup();
    current.token = session("U1");
    await binding.sync();
    await binding.signOut();
    assert.equal(logouts.n, 1);
    assert.equal(auth.currentUser, null);
  });

  test("subscribe drives syncs; stop unsubscribes", async () => {
    const { auth, bridge, current, listeners, binding } = setup();
    assert.equal(listeners.size, 1);
    current.token = session("U1");
    for (const l of listeners) l();
    await waitFor(() => auth.currentUser?.uid === "fb-U1");
    current.token = null;
    for (const l of listeners) l();
    await waitFor(() => auth.currentUser === null);
    binding.stop();
    assert.equal(listeners.size, 0);
    assert.equal(auth.listeners.size, 0);
    assert.equal(bridge.state.calls, 1);
  });
});

describe("claimsFingerprint", () => {
  test("ignores time claims and the order of keys and names", () => {
    const a = jwt({ sub: "U1", iat: 1, exp: 2, roles: ["a", "b"], tenants: { T1: { roles: ["x"] }, T2: {} } });
    const b = jwt({ exp: 9, tenants: { T2: {}, T1: { roles: ["x"] } }, roles: ["b", "a"], sub: "U1", iat: 8 });
    assert.equal(claimsFingerprint(a), claimsFingerprint(b));
  });
  test("tells a changed role, tenant role or user apart", () => {
    const base = { sub: "U1", roles: ["a"], tenants: { T1: { roles: ["x"] } } };
    const fp = claimsFingerprint(jwt(base));
    assert.notEqual(fp, claimsFingerprint(jwt({ ...base, roles: ["a", "b"] })));
    assert.notEqual(fp, claimsFingerprint(jwt({ ...base, tenants: { T1: { roles: ["y"] } } })));
    assert.notEqual(fp, claimsFingerprint(jwt({ ...base, sub: "U2" })));
  });
  test("reads UTF-8 claims, and gives an unreadable token a fingerprint of its own", () => {
    assert.match(claimsFingerprint(jwt({ sub: "Ü1", roles: ["rôle"] })), /rôle/);
    assert.match(claimsFingerprint("not-a-jwt"), /^unreadable:/);
  });
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
