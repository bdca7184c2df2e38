// The React half of the session binding, shared by the web and React
// Native hooks: it owns one binding per Auth instance, syncs it when the
// Descope session changes, and reports the Firebase user and the claims
// its ID token carries (read back from Firebase, as security rules see
// them). Safe under StrictMode: the binding lives in an effect, and a
// stopped binding's late results are dropped.

import { useCallback, useEffect, useRef, useState } from "react";
import type { FetchLike } from "./exchange.js";
import { bindFirebaseSession, type AuthLike, type FirebaseSessionBinding, type SyncResult } from "./session.js";

/** A Firebase user as the hooks report it. */
export interface FirebaseUserLike {
  readonly uid: string;
  getIdTokenResult?(forceRefresh?: boolean): Promise<{ claims: Record<string, unknown> }>;
}

export interface FirebaseSessionOptions<A extends AuthLike> {
  bridgeUrl: string;
  auth: A;
  signInWithCustomToken: (auth: A, customToken: string) => Promise<unknown>;
  signOut: (auth: A) => Promise<void>;
  /** Firebase's onAuthStateChanged: lets the binding notice a revoked or disabled account. */
  onAuthStateChanged?: (auth: A, next: (user: { uid: string } | null) => void) => () => void;
  /** Reads the ID token's claims; default: the user's own getIdTokenResult(). */
  getIdTokenResult?: (user: NonNullable<A["currentUser"]>) => Promise<{ claims: Record<string, unknown> }>;
  claims?: readonly string[];
  fetch?: FetchLike;
  onError?: (err: unknown) => void;
}

export type FirebaseSessionStatus = "loading" | "signed_out" | "signing_in" | "signed_in" | "error";

export interface FirebaseSessionState<U> {
  /** The Firebase user, or null. */
  user: U | null;
  /** The claims of the user's current ID token, or null. */
  claims: Record<string, unknown> | null;
  status: FirebaseSessionStatus;
  /** The last failure (a BridgeError carries the bridge's `code`), or null. */
  error: unknown;
  /** Ends both sessions. */
  signOut: () => Promise<void>;
}

/** What each platform's Descope SDK gives the shared hook. */
export interface DescopeSessionSource {
  token: string | null;
  loading: boolean;
  logout?: () => Promise<unknown>;
  refresh?: () => Promise<unknown>;
  /** The freshest token after refresh (the React state may lag a render). */
  latestToken?: () => string | null | Promise<string | null>;
}

export function useBoundFirebaseSession<A extends AuthLike>(
  opts: FirebaseSessionOptions<A>,
  source: DescopeSessionSource,
): FirebaseSessionState<NonNullable<A["currentUser"]>> {
  type U = NonNullable<A["currentUser"]>;
  const [state, setState] = useState<{ user: U | null; claims: Record<string, unknown> | null; status: FirebaseSessionStatus; error: unknown }>(
    { user: null, claims: null, status: "loading", error: null },
  );
  const sourceRef = useRef(source);
  sourceRef.current = source;
  const optsRef = useRef(opts);
  optsRef.current = opts;
  const bindingRef = useRef<FirebaseSessionBinding | null>(null);

  const apply = useCallback(async (binding: FirebaseSessionBinding, r: SyncResult) => {
    const o = optsRef.current;
    const user = (o.auth.currentUser ?? null) as U | null;
    let claims: Record<string, unknown> | null = null;
    if (user) {
      try {
        const read = o.getIdTokenResult ?? ((u: U) => (u as FirebaseUserLike).getIdTokenResult?.() ?? Promise.resolve({ claims: {} }));
        claims = (await read(user)).claims;
      } catch (err) {
        const next = await binding.handleFirebaseError(err);
        if (next) return apply(binding, next);
      }
    }
    if (bindingRef.current !== binding) return; // stopped meanwhile
    if (r.status === "error") {
      setState({ user, claims, status: "error", error: r.error });
    } else {
      setState({ user, claims, status: user ? "signed_in" : "signed_out", error: null });
    }
  }, []);

  useEffect(() => {
    const binding = bindFirebaseSession({
      bridgeUrl: opts.bridgeUrl,
      auth: opts.auth,
      signInWithCustomToken: (a, t) => optsRef.current.signInWithCustomToken(a, t),
      signOut: (a) => optsRef.current.signOut(a),
      getSessionToken: () => sourceRef.current.latestToken?.() ?? sourceRef.current.token,
      ...(opts.onAuthStateChanged ? { onAuthStateChanged: opts.onAuthStateChanged } : {}),
      descopeLogout: async () => sourceRef.current.logout?.(),
      refreshSession: async () => sourceRef.current.refresh?.(),
      onError: (err) => optsRef.current.onError?.(err),
      ...(opts.claims ? { claims: opts.claims } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
    bindingRef.current = binding;
    return () => {
      binding.stop();
      if (bindingRef.current === binding) bindingRef.current = null;
    };
    // One binding per bridge and Auth instance; the rest is read through refs.
  }, [opts.bridgeUrl, opts.auth, opts.onAuthStateChanged, opts.claims, opts.fetch]);

  // Each change of the Descope session (sign-in, refresh, sign-out) is a
  // sync; a refresh with the same claims makes no request.
  useEffect(() => {
    const binding = bindingRef.current;
    if (!binding || source.loading) return;
    setState((s) => (s.status === "signed_in" ? s : { ...s, status: source.token ? "signing_in" : "signed_out" }));
    void binding.sync().then((r) => apply(binding, r));
  }, [source.token, source.loading, apply]);

  const signOut = useCallback(async () => {
    const binding = bindingRef.current;
    if (!binding) return;
    await binding.signOut();
    setState({ user: null, claims: null, status: "signed_out", error: null });
  }, []);

  return { ...state, signOut };
}
