// The runtime-neutral core under @dfbridge/client/expo, in Node: a
// DescopeOidcSession signed in through the stand-in's OIDC endpoints (the
// authorization request an Expo app makes with expo-auth-session, made here
// with fetch), bound to the real Firebase JS SDK (firebase@12.19.0,
// connectAuthEmulator) through the bridge, against the local stack.
//
// Env: BRIDGE_URL, DESCOPE_STUB_URL, FIREBASE_AUTH_EMULATOR_HOST, DESCOPE_PROJECT_ID.

import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
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
} from "firebase/auth";

import { DescopeOidcSession, bindOidcSession, type FetchLike } from "../../src/index.js";
import { need } from "./env.js";

const bridgeUrl = need("BRIDGE_URL");
const stubUrl = need("DESCOPE_STUB_URL");
const emulatorHost = need("FIREBASE_AUTH_EMULATOR_HOST");
const projectId = need("DESCOPE_PROJECT_ID", "Plocaldfbridge");

const clientId = "expo-app";
const redirectUri = "dfbridgeexpo://oauthredirect";

async function stub(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${stubUrl}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.ok(res.ok, `stand-in ${path}: ${res.status}`);
}

/** What expo-auth-session does: the authorization request with PKCE S256, then the code. */
async function authorize(session: DescopeOidcSession, userId: string): Promise<void> {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const url = new URL(session.endpoints.authorizationEndpoint);
  for (const [k, v] of Object.entries({
    client_id: clientId, redirect_uri: redirectUri, response_type: "code", scope: "openid profile email offline_access",
    code_challenge: challenge, code_challenge_method: "S256", state: "s1", login_hint: userId,
  })) url.searchParams.set(k, v);
  const res = await fetch(url, { redirect: "manual" });
  const back = new URL(res.headers.get("location")!);
  assert.equal(back.searchParams.get("state"), "s1");
  await session.exchangeCode(back.searchParams.get("code")!, verifier, redirectUri);
}

describe("@dfbridge/client/expo's core (DescopeOidcSession + bindOidcSession) with the Firebase JS SDK", () => {
  const app = initializeApp({ apiKey: "demo-api-key", projectId: "demo-dfbridge" }, `oidc-${Date.now()}`);
  const auth = getAuth(app);
  connectAuthEmulator(auth, `http://${emulatorHost}`, { disableWarnings: true });
  after(() => deleteApp(app));

  const userId = `U2expo${randomBytes(6).toString("hex")}`;
  const session = new DescopeOidcSession({ projectId, clientId, baseUrl: stubUrl });
  let exchanges = 0;
  const errors: unknown[] = [];
  const countingFetch: FetchLike = (url, init) => {
    if (url.endsWith("/exchange")) exchanges++;
    return fetch(url, init as RequestInit) as unknown as ReturnType<FetchLike>;
  };
  const binding = bindOidcSession(session, {
    bridgeUrl, auth, signInWithCustomToken, signOut, onAuthStateChanged, fetch: countingFetch,
    onError: (err) => errors.push(err),
  });
  after(() => binding.stop());
  const claims = async () => (await getIdTokenResult(auth.currentUser!, true)).claims;
  const laterSecond = () => new Promise((r) => setTimeout(r, 1005 - (Date.now() % 1000)));

  test("sign-in: PKCE, the code redeemed, the access token exchanged", async () => {
    await setPersistence(auth, inMemoryPersistence);
    await stub("/dev/session", { userId, roles: ["viewer"] });
    await authorize(session, userId);
    const r = await binding.sync();
    assert.equal(r.status, "signed_in", JSON.stringify(r));
    assert.equal(auth.currentUser?.uid, userId);
    assert.deepEqual((await claims()).roles, ["viewer"]);
    assert.equal(exchanges, 1);
  });

  test("a refresh with the same claims makes no exchange", async () => {
    await laterSecond();
    const before = (await session.tokens())?.accessToken;
    await session.refresh();
    assert.notEqual((await session.tokens())?.accessToken, before, "a new access token");
    const r = await binding.sync();
    assert.equal(r.status, "unchanged");
    assert.equal(exchanges, 1);
  });

  test("a role change reaches the ID token", async () => {
    await stub("/dev/user", { userId, roles: ["editor"] });
    await laterSecond();
    await session.refresh();
    const r = await binding.sync();
    assert.equal(r.status, "signed_in");
    assert.equal(exchanges, 2);
    assert.deepEqual((await claims()).roles, ["editor"]);
  });

  test("logout signs Firebase out, and the refresh token is revoked", async () => {
    const refreshToken = (await session.tokens())?.refreshToken;
    await binding.signOut();
    assert.equal(auth.currentUser, null);
    assert.equal(await session.getSessionToken(), null);
    const res = await fetch(session.endpoints.tokenEndpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken!, client_id: clientId }).toString(),
    });
    assert.equal(res.status, 400, "the revoked refresh token refreshes no more");
  });

  test("a refresh token revoked elsewhere signs Firebase out", async () => {
    await authorize(session, userId);
    assert.equal((await binding.sync()).status, "signed_in");
    assert.ok(auth.currentUser);
    // Revoked by another of the user's devices, or by an admin.
    const res = await fetch(session.endpoints.revocationEndpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: (await session.tokens())!.refreshToken!, client_id: clientId }).toString(),
    });
    assert.equal(res.status, 200);
    assert.equal(await session.refresh(), null, "Descope refuses the refresh");
    const r = await binding.sync();
    assert.equal(r.status, "signed_out");
    assert.equal(auth.currentUser, null);
  });
});
