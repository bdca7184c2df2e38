// The session binding with the real Firebase JS SDK (firebase@12.19.0, in
// Node with connectAuthEmulator) against the real local stack: the bridge,
// the Descope stand-in and the Auth emulator. scripts/test.sh starts the
// stack and runs this; if a part is unreachable the test fails, because a
// skipped stack test proves nothing.
//
// Env: BRIDGE_URL, DESCOPE_STUB_URL, FIREBASE_AUTH_EMULATOR_HOST,
// DESCOPE_PROJECT_ID, AUDIT_SECRET (the bridge's AUDIT_WEBHOOK_HMAC_SECRETS).

import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { deleteApp, initializeApp } from "firebase/app";
import {
  connectAuthEmulator,
  getAuth,
  getIdTokenResult,
  inMemoryPersistence,
  onAuthStateChanged,
  setPersistence,
  signInWithCustomToken,
  signOut,
  type Auth,
} from "firebase/auth";

import { bindFirebaseSession, type FetchLike } from "../../src/index.js";
import { need } from "./env.js";

const bridgeUrl = need("BRIDGE_URL");
const stubUrl = need("DESCOPE_STUB_URL");
const emulatorHost = need("FIREBASE_AUTH_EMULATOR_HOST");
const projectId = need("DESCOPE_PROJECT_ID", "Plocaldfbridge");
const auditSecret = need("AUDIT_SECRET");

async function stub(path: string, body: unknown): Promise<{ sessionJwt?: string }> {
  const res = await fetch(`${stubUrl}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status === 204) return {};
  const json = (await res.json()) as { sessionJwt?: string };
  if (!res.ok) throw Object.assign(new Error(`stand-in ${path}: ${res.status}`), { status: res.status });
  return json;
}

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("bindFirebaseSession with the Firebase JS SDK against the local stack", () => {
  const app = initializeApp({ apiKey: "demo-api-key", projectId: "demo-dfbridge" }, `binding-${Date.now()}`);
  const auth: Auth = getAuth(app);
  connectAuthEmulator(auth, `http://${emulatorHost}`, { disableWarnings: true });
  after(() => deleteApp(app));

  const userId = `U2bind${randomBytes(6).toString("hex")}`;
  let token: string | null = null;
  let exchanges = 0;
  const errors: unknown[] = [];
  const countingFetch: FetchLike = (url, init) => {
    if (url.endsWith("/exchange")) exchanges++;
    return fetch(url, init as RequestInit) as unknown as ReturnType<FetchLike>;
  };
  const binding = bindFirebaseSession({
    bridgeUrl,
    auth,
    signInWithCustomToken,
    signOut,
    onAuthStateChanged,
    getSessionToken: () => token,
    onError: (err) => errors.push(err),
    fetch: countingFetch,
  });
  after(() => binding.stop());
  const claims = async () => (await getIdTokenResult(auth.currentUser!)).claims;
  const refresh = async () => {
    // A session minted in a later second, so the JWT differs (iat, exp).
    await new Promise((r) => setTimeout(r, 1005 - (Date.now() % 1000)));
    token = (await stub("/dev/refresh", { userId })).sessionJwt ?? null;
  };

  test("signs in", async () => {
    await setPersistence(auth, inMemoryPersistence);
    token = (await stub("/dev/session", { userId, roles: ["viewer"], email: `${userId.toLowerCase()}@example.com` })).sessionJwt!;
    const r = await binding.sync();
    assert.equal(r.status, "signed_in", JSON.stringify(r));
    assert.equal(auth.currentUser?.uid, userId);
    assert.deepEqual((await claims()).roles, ["viewer"]);
    assert.equal(exchanges, 1);
  });

  test("a refreshed session with the same access makes no new exchange", async () => {
    const before = token;
    await refresh();
    assert.notEqual(token, before, "a new session JWT");
    const r = await binding.sync();
    assert.equal(r.status, "unchanged");
    assert.equal(exchanges, 1);
  });

  test("a role change reaches getIdTokenResult() claims", async () => {
    await stub("/dev/user", { userId, roles: ["editor"] });
    await refresh();
    const r = await binding.sync();
    assert.equal(r.status, "signed_in");
    assert.equal(exchanges, 2);
    assert.deepEqual((await claims()).roles, ["editor"]);
  });

  test("a Descope sign-out signs Firebase out", async () => {
    token = null;
    const r = await binding.sync();
    assert.equal(r.status, "signed_out");
    assert.equal(auth.currentUser, null);
  });

  test("a user disabled by lifecycle sync is signed out, with the error", async () => {
    await refresh();
    assert.equal((await binding.sync()).status, "signed_in");
    const user = auth.currentUser!;

    // Disabled at Descope; the audit webhook tells the bridge, whose
    // lifecycle sync revokes and disables the Firebase account.
    await stub("/dev/user", { userId, status: "disabled" });
    const body = JSON.stringify([
      { projectId, action: "UserModified", userId, type: "info", occurred: String(Date.now()) },
    ]);
    const sig = createHmac("sha256", auditSecret).update(body).digest("base64");
    const res = await fetch(`${bridgeUrl}/webhook/audit`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "x-descope-webhook-s256": sig },
      body,
    });
    assert.equal(res.status, 202, await res.text());

    // The app meets Firebase's refusal at its next token refresh and hands
    // it to the binding, which tries its one exchange.
    let refusal: unknown;
    await waitFor("Firebase refuses the account", async () => {
      try {
        await user.getIdToken(true);
        return false;
      } catch (err) {
        refusal = err;
        return true;
      }
    });
    assert.equal((refusal as { code?: string }).code, "auth/user-disabled");
    const r = await binding.handleFirebaseError(refusal);
    assert.equal(r?.status, "error");
    assert.equal(auth.currentUser, null, "signed out");
    const last = errors.at(-1) as { code?: string };
    assert.equal(last.code, "user_removed", "onError has the bridge's refusal of the removed user's fresh exchange");
  });
});
