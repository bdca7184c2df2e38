// useFirebaseSession for Expo apps, which sign in through Descope's OIDC
// endpoints (Descope's React Native SDK does not serve Expo): the
// authorization request with PKCE comes from expo-auth-session, the tokens
// live in expo-secure-store, and everything else (refresh, logout and
// revocation, keeping Firebase in step) is the runtime-neutral core in
// ./oidc and ./session, tested in Node against the local stack.
import { useEffect, useMemo, useState } from "react";
import { ResponseType, useAuthRequest, type AuthSessionResult } from "expo-auth-session";
import * as SecureStore from "expo-secure-store";
import { useBoundFirebaseSession, type FirebaseSessionOptions, type FirebaseSessionState } from "./hook.js";
import { DescopeOidcSession, type OidcTokens, type TokenStore } from "./oidc.js";
import type { AuthLike } from "./session.js";

export type { FirebaseSessionOptions, FirebaseSessionState, FirebaseSessionStatus } from "./hook.js";
export { DescopeOidcSession, descopeOidcEndpoints, type OidcTokens, type TokenStore } from "./oidc.js";

/** Tokens in expo-secure-store (the Keychain, or Android's Keystore), as one JSON item. */
export function secureStoreTokens(key = "dfbridge.descope.oidc"): TokenStore {
  return {
    get: async () => {
      const raw = await SecureStore.getItemAsync(key);
      return raw ? (JSON.parse(raw) as OidcTokens) : null;
    },
    set: async (tokens) => {
      if (tokens) await SecureStore.setItemAsync(key, JSON.stringify(tokens));
      else await SecureStore.deleteItemAsync(key);
    },
  };
}

export interface ExpoDescopeOptions {
  /** The Descope project ID. */
  projectId: string;
  /** The OIDC application's client ID (Descope console → Applications). */
  clientId: string;
  /** The app's redirect URI, e.g. `makeRedirectUri({ scheme: "myapp" })`; registered in the application. */
  redirectUri: string;
  /**
   * Default `["openid", "profile", "email", "offline_access"]`:
   * `offline_access` asks for the refresh token the hook renews the session
   * with (OpenID Connect's scope for it; a provider that issues refresh
   * tokens anyway ignores it).
   */
  scopes?: string[];
  /** Descope's API, default `https://api.descope.com` (a custom domain otherwise). */
  baseUrl?: string;
  /** Default: secureStoreTokens(). */
  store?: TokenStore;
}

export interface ExpoFirebaseSessionState<U> extends FirebaseSessionState<U> {
  /** Opens Descope's hosted flow; resolves with expo-auth-session's result. */
  signIn: () => Promise<AuthSessionResult>;
  /** Whether the authorization request is ready (signIn may be called). */
  ready: boolean;
}

export function useFirebaseSession<A extends AuthLike>(
  opts: FirebaseSessionOptions<A> & ExpoDescopeOptions,
): ExpoFirebaseSessionState<NonNullable<A["currentUser"]>> {
  const session = useMemo(
    () => new DescopeOidcSession({
      projectId: opts.projectId, clientId: opts.clientId, store: opts.store ?? secureStoreTokens(),
      ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
    }),
    [opts.projectId, opts.clientId, opts.baseUrl, opts.store],
  );
  const e = session.endpoints;
  const [request, response, promptAsync] = useAuthRequest(
    {
      clientId: opts.clientId, redirectUri: opts.redirectUri, scopes: opts.scopes ?? ["openid", "profile", "email", "offline_access"],
      responseType: ResponseType.Code, usePKCE: true,
    },
    {
      authorizationEndpoint: e.authorizationEndpoint, tokenEndpoint: e.tokenEndpoint,
      revocationEndpoint: e.revocationEndpoint, endSessionEndpoint: e.endSessionEndpoint, userInfoEndpoint: e.userInfoEndpoint,
    },
  );
  const [token, setToken] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  useEffect(() => {
    let live = true;
    const update = async () => {
      const next = await session.getSessionToken().catch(() => null);
      if (live) {
        setToken(next);
        setLoading(false);
      }
    };
    void update();
    const unsubscribe = session.subscribe(() => void update());
    return () => {
      live = false;
      unsubscribe();
    };
  }, [session]);
  useEffect(() => {
    const code = response?.type === "success" ? response.params.code : undefined;
    if (code && request?.codeVerifier) {
      void session.exchangeCode(code, request.codeVerifier, opts.redirectUri).catch((err) => opts.onError?.(err));
    }
  }, [response, request, session, opts.redirectUri]);
  const state = useBoundFirebaseSession(opts, {
    token, loading,
    logout: () => session.logout(),
    refresh: () => session.refresh(),
    latestToken: () => session.getSessionToken(),
  });
  return { ...state, signIn: () => promptAsync(), ready: request !== null };
}
