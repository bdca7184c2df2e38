// The Descope stand-in's OpenID Connect endpoints, driven by a standard
// OIDC client library (openid-client, pinned) as an Expo app's
// expo-auth-session drives Descope's: discovery, the authorization code
// flow with PKCE S256, the access token exchanged at the bridge, refresh,
// userinfo, revocation and logout. Runs against the local stack like the
// binding's test (scripts/test.sh).
//
// Env: BRIDGE_URL, DESCOPE_STUB_URL, DESCOPE_PROJECT_ID.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as oidc from "openid-client";
import { need } from "./env.js";

const bridgeUrl = need("BRIDGE_URL");
const stubUrl = need("DESCOPE_STUB_URL");
const projectId = need("DESCOPE_PROJECT_ID", "Plocaldfbridge");

const clientId = "expo-app";
const redirectUri = "dfbridgeexpo://oauthredirect";

describe("Descope's OIDC endpoints (stand-in) with openid-client", () => {
  let config: oidc.Configuration;
  let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
  const userId = `U2oidc${Date.now()}`;

  test("discovery at the project's .well-known/openid-configuration", async () => {
    // The stand-in is plain HTTP on loopback; Descope's endpoints are HTTPS.
    config = await oidc.discovery(new URL(`${stubUrl}/${projectId}`), clientId, undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, `${stubUrl}/${projectId}`);
    assert.equal(meta.authorization_endpoint, `${stubUrl}/oauth2/v1/authorize`);
    assert.equal(meta.token_endpoint, `${stubUrl}/oauth2/v1/token`);
    assert.equal(meta.jwks_uri, `${stubUrl}/${projectId}/.well-known/jwks.json`);
    assert.deepEqual(meta.code_challenge_methods_supported, ["S256"]);
  });

  test("the authorization code flow with PKCE S256", async () => {
    // The stand-in keeps the user a session names; make one.
    const made = await fetch(`${stubUrl}/dev/session`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ userId, roles: ["viewer"] }),
    });
    assert.equal(made.status, 200);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: "openid profile email offline_access",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      login_hint: userId, // the stand-in's flow signs this user in
    });
    const res = await fetch(url, { redirect: "manual" });
    assert.equal(res.status, 302);
    const back = new URL(res.headers.get("location")!);
    assert.equal(back.protocol, "dfbridgeexpo:");
    tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
    assert.equal(tokens.token_type.toLowerCase(), "bearer");
    assert.equal(tokens.claims()?.sub, userId, "the ID token names the user");

    const wrong = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri, code_challenge: "x", code_challenge_method: "plain", login_hint: userId,
    });
    const refused = new URL((await fetch(wrong, { redirect: "manual" })).headers.get("location")!);
    assert.equal(refused.searchParams.get("error"), "invalid_request", "PKCE plain is refused");
  });

  test("the access token is the session the bridge exchanges", async () => {
    const payload = JSON.parse(Buffer.from(tokens.access_token.split(".")[1]!, "base64url").toString());
    assert.equal(payload.aud, clientId);
    assert.equal(payload.drn, "DS");
    const res = await fetch(`${bridgeUrl}/exchange`, {
      method: "POST",
      headers: { Authorization: `Bearer ${tokens.access_token}` },
    });
    const body = (await res.json()) as { uid?: string; externalToken?: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.uid, userId);
    assert.ok(body.externalToken);
  });

  test("refresh, then userinfo with the new access token", async () => {
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const payload = JSON.parse(Buffer.from(refreshed.access_token.split(".")[1]!, "base64url").toString());
    assert.equal(payload.sub, userId, "a session token for the same user");
    assert.equal(payload.drn, "DS");
    const info = await oidc.fetchUserInfo(config, refreshed.access_token, userId);
    assert.equal(info.sub, userId);
  });

  test("a revoked refresh token refreshes no more", async () => {
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (err: unknown) => {
      return (err as { error?: string }).error === "invalid_grant";
    });
  });

  test("logout ends every session the ID token's user had", async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri, scope: "openid", login_hint: userId,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
    });
    const back = new URL((await fetch(url, { redirect: "manual" })).headers.get("location")!);
    const fresh = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier });
    const end = oidc.buildEndSessionUrl(config, { id_token_hint: fresh.id_token!, post_logout_redirect_uri: redirectUri });
    const res = await fetch(end, { redirect: "manual" });
    assert.equal(res.status, 302);
    await assert.rejects(oidc.refreshTokenGrant(config, fresh.refresh_token!));
  });
});
