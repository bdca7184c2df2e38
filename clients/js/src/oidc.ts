// A Descope session held as OAuth tokens, for apps that sign in through
// Descope's OpenID Connect endpoints (Expo apps, which Descope's React
// Native SDK does not serve): the access token is the Descope session token
// the bridge exchanges. This core runs anywhere `fetch` does; the Expo layer
// (./expo) adds only the authorization request and secure storage.

import type { ResponseLike } from "./exchange.js";
import { bindFirebaseSession, type AuthLike, type BindOptions, type FirebaseSessionBinding } from "./session.js";

/** Descope's OAuth endpoints for a project (docs.descope.com, "OIDC Endpoints"). */
export interface DescopeOidcEndpoints {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  userInfoEndpoint: string;
  revocationEndpoint: string;
  endSessionEndpoint: string;
  discovery: string;
}

/** The endpoints under baseUrl (default `https://api.descope.com`). */
export function descopeOidcEndpoints(projectId: string, baseUrl = "https://api.descope.com"): DescopeOidcEndpoints {
  const base = baseUrl.replace(/\/+$/, "");
  return {
    issuer: `${base}/${projectId}`,
    authorizationEndpoint: `${base}/oauth2/v1/authorize`,
    tokenEndpoint: `${base}/oauth2/v1/token`,
    userInfoEndpoint: `${base}/oauth2/v1/userinfo`,
    revocationEndpoint: `${base}/oauth2/v1/revoke`,
    endSessionEndpoint: `${base}/oauth2/v1/logout`,
    discovery: `${base}/${projectId}/.well-known/openid-configuration`,
  };
}

/** The tokens of a signed-in user. */
export interface OidcTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** When the access token expires, in ms since the epoch. */
  expiresAt: number;
}

/** Where the tokens live between launches (expo-secure-store in an app). */
export interface TokenStore {
  get(): Promise<OidcTokens | null>;
  set(tokens: OidcTokens | null): Promise<void>;
}

/** A store in memory: tokens last as long as the process. */
export function memoryTokenStore(): TokenStore {
  let held: OidcTokens | null = null;
  return { get: async () => held, set: async (t) => void (held = t) };
}

/** The part of fetch the OIDC session uses. */
export type OidcFetch = (
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: string; redirect?: "manual" },
) => Promise<ResponseLike>;

export interface DescopeOidcOptions {
  projectId: string;
  /** The OIDC application's client ID (Descope console → Applications). */
  clientId: string;
  /** Defaults to `https://api.descope.com`; a custom domain's URL otherwise. */
  baseUrl?: string;
  store?: TokenStore;
  /** Defaults to the global fetch. */
  fetch?: OidcFetch;
  /** Refresh this long before the access token expires (default 60 s). */
  refreshMarginMs?: number;
}

/** An OAuth error answer from Descope: `error` is the RFC 6749 code. */
export class OidcError extends Error {
  constructor(readonly error: string, readonly status: number, description?: string) {
    super(`descope oauth ${status} ${error}${description ? `: ${description}` : ""}`);
    this.name = "OidcError";
  }
}

/**
 * The Descope session of an OIDC sign-in: it keeps the tokens, refreshes
 * the access token before it expires, and ends the session (revoking the
 * refresh token, then Descope's logout). A refresh Descope refuses
 * (`invalid_grant`: revoked, the user disabled or deleted) ends it too, so
 * the session token becomes null and a bound Firebase session signs out.
 */
export class DescopeOidcSession {
  readonly endpoints: DescopeOidcEndpoints;
  private readonly store: TokenStore;
  private readonly fetchFn: OidcFetch;
  private readonly margin: number;
  private readonly listeners = new Set<() => void>();
  private refreshing: Promise<OidcTokens | null> | null = null;

  constructor(private readonly opts: DescopeOidcOptions) {
    this.endpoints = descopeOidcEndpoints(opts.projectId, opts.baseUrl);
    this.store = opts.store ?? memoryTokenStore();
    this.fetchFn = opts.fetch ?? ((url, init) => fetch(url, init));
    this.margin = opts.refreshMarginMs ?? 60_000;
  }

  /** Calls back when the tokens change; returns an unsubscribe function. */
  subscribe(onChange: () => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }

  /** The tokens held now, or null. */
  tokens(): Promise<OidcTokens | null> {
    return this.store.get();
  }

  /** Redeems an authorization code (with its PKCE verifier) for tokens. */
  async exchangeCode(code: string, codeVerifier: string, redirectUri: string): Promise<OidcTokens> {
    const tokens = await this.tokenCall({
      grant_type: "authorization_code", code, code_verifier: codeVerifier, redirect_uri: redirectUri,
    });
    await this.save(tokens);
    return tokens;
  }

  /** Keeps tokens an app obtained another way (expo-auth-session's exchange). */
  async setTokens(tokens: OidcTokens | null): Promise<void> {
    await this.save(tokens);
  }

  /**
   * The current session token (the access token), refreshed first when it
   * is about to expire; null when signed out or the refresh was refused.
   */
  async getSessionToken(): Promise<string | null> {
    const held = await this.store.get();
    if (!held) return null;
    if (held.expiresAt - this.margin > Date.now()) return held.accessToken;
    return (await this.refresh())?.accessToken ?? null;
  }

  /** Refreshes now. Concurrent calls share one request. */
  refresh(): Promise<OidcTokens | null> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<OidcTokens | null> {
    const held = await this.store.get();
    if (!held?.refreshToken) {
      if (held) await this.save(null);
      return null;
    }
    try {
      const next = await this.tokenCall({ grant_type: "refresh_token", refresh_token: held.refreshToken });
      const idToken = next.idToken ?? held.idToken;
      const merged: OidcTokens = { ...next, refreshToken: next.refreshToken ?? held.refreshToken, ...(idToken ? { idToken } : {}) };
      await this.save(merged);
      return merged;
    } catch (err) {
      if (err instanceof OidcError && (err.error === "invalid_grant" || err.status === 401)) {
        await this.save(null); // Descope ended the session
        return null;
      }
      throw err;
    }
  }

  /** Ends the session: revokes the refresh token, then Descope's logout. */
  async logout(): Promise<void> {
    const held = await this.store.get();
    await this.save(null);
    if (!held) return;
    if (held.refreshToken) {
      await this.form(this.endpoints.revocationEndpoint, { token: held.refreshToken, token_type_hint: "refresh_token" });
    }
    if (held.idToken) {
      const url = `${this.endpoints.endSessionEndpoint}?id_token_hint=${encodeURIComponent(held.idToken)}`;
      await this.fetchFn(url, { method: "GET", redirect: "manual" }).catch(() => undefined);
    }
  }

  private async save(tokens: OidcTokens | null): Promise<void> {
    await this.store.set(tokens);
    for (const l of this.listeners) {
      try {
        l();
      } catch {
        // A listener failing must not break the session.
      }
    }
  }

  private form(url: string, params: Record<string, string>): Promise<ResponseLike> {
    return this.fetchFn(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({ client_id: this.opts.clientId, ...params }).toString(),
    });
  }

  private async tokenCall(params: Record<string, string>): Promise<OidcTokens> {
    const res = await this.form(this.endpoints.tokenEndpoint, params);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(await res.text()) as Record<string, unknown>;
    } catch {
      // Not JSON: reported below as invalid_response.
    }
    if (!res.ok || typeof body.access_token !== "string") {
      throw new OidcError(String(body.error ?? "invalid_response"), res.status,
        typeof body.error_description === "string" ? body.error_description : undefined);
    }
    const expiresIn = typeof body.expires_in === "number" ? body.expires_in : 600;
    return {
      accessToken: body.access_token,
      ...(typeof body.refresh_token === "string" ? { refreshToken: body.refresh_token } : {}),
      ...(typeof body.id_token === "string" ? { idToken: body.id_token } : {}),
      expiresAt: Date.now() + expiresIn * 1000,
    };
  }
}

/**
 * Binds Firebase to an OIDC Descope session exactly as
 * `bindFirebaseSession` binds it to an SDK's: one exchange when the user or
 * what they may do changes, none on a plain refresh, a Firebase sign-out
 * when the session ends (logout, or a refresh Descope refuses).
 */
export function bindOidcSession<A extends AuthLike>(
  session: DescopeOidcSession,
  opts: Omit<BindOptions<A>, "getSessionToken" | "subscribe" | "descopeLogout" | "refreshSession">,
): FirebaseSessionBinding {
  return bindFirebaseSession({
    ...opts,
    getSessionToken: () => session.getSessionToken(),
    subscribe: (onChange) => session.subscribe(onChange),
    descopeLogout: () => session.logout(),
    refreshSession: () => session.refresh(),
  });
}
