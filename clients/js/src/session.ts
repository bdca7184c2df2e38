// The session binding keeps a Firebase sign-in in step with a Descope
// session: one exchange when the user or what they may do changes, none on
// a plain token refresh, a Firebase sign-out when the Descope session ends,
// and one recovery attempt when Firebase reports the account revoked or
// disabled. It bundles no Firebase and no Descope: the app passes their
// functions in.

import { BridgeError, exchangeSession, type FetchLike } from "./exchange.js";

/** The claims that decide whether a refreshed session needs an exchange. */
export const DEFAULT_RELEVANT_CLAIMS: readonly string[] = ["sub", "dsub", "roles", "permissions", "tenants", "dct"];

/** The part of a Firebase Auth instance the binding reads. */
export interface AuthLike {
  readonly currentUser: { readonly uid: string } | null;
}

export interface BindOptions<A extends AuthLike> {
  /** Base URL of the bridge, e.g. `https://auth.example.com`. */
  bridgeUrl: string;
  /** The Firebase Auth instance (web `getAuth()`, or React Native Firebase's). */
  auth: A;
  /** Firebase's own `signInWithCustomToken`. */
  signInWithCustomToken: (auth: A, customToken: string) => Promise<unknown>;
  /** Firebase's own `signOut`. */
  signOut: (auth: A) => Promise<void>;
  /** The current Descope session JWT, or null when signed out of Descope. */
  getSessionToken: () => string | null | undefined | Promise<string | null | undefined>;
  /**
   * Calls back when the Descope session changes (a sign-in, a refresh, a
   * sign-out); returns an unsubscribe function. Without it, call `sync()`
   * yourself.
   */
  subscribe?: (onChange: () => void) => () => void;
  /**
   * Firebase's own `onAuthStateChanged`. When Firebase signs the user out on
   * its own (its refresh found the account revoked or disabled), the
   * binding exchanges the Descope session once more.
   */
  onAuthStateChanged?: (auth: A, next: (user: { uid: string } | null) => void) => () => void;
  /** Ends the Descope session; `signOut()` calls it before Firebase's. */
  descopeLogout?: () => Promise<unknown>;
  /** Refreshes the Descope session; tried once when the bridge says the token expired. */
  refreshSession?: () => Promise<unknown>;
  /** Told of every failure the binding handles (a refusal signs Firebase out first). */
  onError?: (err: unknown) => void;
  /** Session claims whose change calls for a new exchange; default DEFAULT_RELEVANT_CLAIMS. */
  claims?: readonly string[];
  /** Defaults to the global fetch. */
  fetch?: FetchLike;
  /** Tries of an exchange the bridge answers with a retryable error (default 3), backoff base in ms (default 250). */
  retries?: number;
  backoffMs?: number;
}

export type SyncStatus = "signed_in" | "unchanged" | "signed_out" | "error";

export interface SyncResult {
  status: SyncStatus;
  /** The Firebase UID signed in, when there is one. */
  uid?: string;
  /** Whether this sync called the bridge. */
  exchanged: boolean;
  /** What failed, with status "error". */
  error?: unknown;
}

export interface FirebaseSessionBinding {
  /** Brings Firebase in line with the Descope session now. Concurrent calls share one run. */
  sync(): Promise<SyncResult>;
  /** Ends both sessions: Descope's (descopeLogout), then Firebase's. */
  signOut(): Promise<void>;
  /** Stops listening; the sessions are left as they are. */
  stop(): void;
  /**
   * Hands the binding an error Firebase raised elsewhere (getIdToken, a
   * Firestore call): `auth/user-token-expired` or `auth/user-disabled`
   * make it exchange once more, and sign out if that fails.
   */
  handleFirebaseError(err: unknown): Promise<SyncResult | undefined>;
}

/** Firebase errors that mean the account's sessions were revoked or it was disabled. */
const INVALIDATED = new Set(["auth/user-token-expired", "auth/user-disabled"]);

export function bindFirebaseSession<A extends AuthLike>(opts: BindOptions<A>): FirebaseSessionBinding {
  const relevant = opts.claims ?? DEFAULT_RELEVANT_CLAIMS;
  const retries = Math.max(1, opts.retries ?? 3);
  const backoff = opts.backoffMs ?? 250;
  // What the binding last signed in: the UID, and the fingerprint of the
  // session claims it was exchanged with.
  let last: { uid: string; fingerprint: string } | null = null;
  // A fingerprint whose recovery already failed: not tried again until the
  // session changes, so a disabled account does not loop.
  let failedFingerprint: string | null = null;
  let failedError: unknown = null;
  let running: Promise<SyncResult> | null = null;
  let stopped = false;

  const report = (err: unknown) => {
    try {
      opts.onError?.(err);
    } catch {
      // The app's handler failing must not break the binding.
    }
  };

  const exchangeWithRetry = async (token: string) => {
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await exchangeSession({ bridgeUrl: opts.bridgeUrl, sessionJwt: token, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
      } catch (err) {
        if (err instanceof BridgeError && err.code === "token_expired" && opts.refreshSession && !refreshed) {
          refreshed = true;
          await opts.refreshSession();
          const next = await opts.getSessionToken();
          if (next) token = next;
          continue;
        }
        if (!(err instanceof BridgeError) || !err.retryable || attempt >= retries) throw err;
        await sleep(jitter(backoff * 2 ** (attempt - 1)));
      }
    }
  };

  const run = async (force: boolean): Promise<SyncResult> => {
    const token = await opts.getSessionToken();
    const current = opts.auth.currentUser?.uid ?? null;
    if (!token) {
      last = null;
      failedFingerprint = null;
      if (current !== null) await opts.signOut(opts.auth);
      return { status: "signed_out", exchanged: false };
    }
    const fingerprint = claimsFingerprint(token, relevant);
    if (!force && last !== null && current === last.uid && fingerprint === last.fingerprint) {
      return { status: "unchanged", uid: current, exchanged: false };
    }
    if (!force && current === null && last === null && fingerprint === failedFingerprint) {
      // This session was refused already: the refusal stands until the
      // session changes (no request, no second report).
      return { status: "error", exchanged: false, error: failedError };
    }
    try {
      const ex = await exchangeWithRetry(token);
      await opts.signInWithCustomToken(opts.auth, ex.customToken);
      last = { uid: ex.uid, fingerprint };
      failedFingerprint = null;
      return { status: "signed_in", uid: ex.uid, exchanged: true };
    } catch (err) {
      last = null;
      // A refusal (the bridge's, or Firebase's for a disabled account)
      // means this session must not stay signed in to Firebase; a failure
      // worth retrying later leaves Firebase as it is.
      const retryable = err instanceof BridgeError && err.retryable;
      if (!retryable) {
        failedFingerprint = fingerprint;
        failedError = err;
        if (opts.auth.currentUser !== null) await opts.signOut(opts.auth).catch(() => undefined);
      }
      report(err);
      return { status: "error", exchanged: true, error: err };
    }
  };

  const sync = (force = false): Promise<SyncResult> => {
    if (stopped) return Promise.resolve({ status: "unchanged", exchanged: false });
    if (running) return running;
    running = run(force).finally(() => {
      running = null;
    });
    return running;
  };

  const unsubscribers: Array<() => void> = [];
  if (opts.subscribe) {
    unsubscribers.push(opts.subscribe(() => void sync()));
  }
  if (opts.onAuthStateChanged) {
    unsubscribers.push(
      opts.onAuthStateChanged(opts.auth, (user) => {
        // Firebase signed out by itself while the binding had it signed
        // in: its refresh found the account revoked or disabled.
        if (user === null && last !== null && !running) {
          last = null;
          void sync(true);
        }
      }),
    );
  }

  return {
    sync: () => sync(false),
    async signOut() {
      last = null;
      failedFingerprint = null;
      try {
        await opts.descopeLogout?.();
      } finally {
        await opts.signOut(opts.auth);
      }
    },
    stop() {
      stopped = true;
      for (const u of unsubscribers.splice(0)) u();
    },
    async handleFirebaseError(err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (typeof code !== "string" || !INVALIDATED.has(code)) return undefined;
      if (running) await running;
      last = null;
      return sync(true);
    },
  };
}

/**
 * A stable fingerprint of the relevant claims of a JWT, read without
 * verifying it (the bridge verifies): key order and the order of lists of
 * names do not matter. A token that cannot be read gets a fingerprint of
 * its own, so it is exchanged (and the bridge says what is wrong with it).
 */
export function claimsFingerprint(jwt: string, names: readonly string[] = DEFAULT_RELEVANT_CLAIMS): string {
  const payload = decodePayload(jwt);
  if (payload === undefined) return `unreadable:${jwt.length}:${jwt.slice(-16)}`;
  const picked: Record<string, unknown> = {};
  for (const n of [...names].sort()) {
    if (n in payload) picked[n] = payload[n];
  }
  return stableStringify(picked);
}

/** The payload of a JWT as JSON, or undefined when it is not one. */
export function decodePayload(jwt: string): Record<string, unknown> | undefined {
  const part = jwt.split(".")[1];
  if (part === undefined || part === "") return undefined;
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    // UTF-8 without TextDecoder, which not every React Native runtime has.
    const text = decodeURIComponent(
      Array.from(bin, (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
    );
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) {
    const items = v.map(stableStringify);
    // Lists of names are sets: ["a","b"] and ["b","a"] grant the same.
    if (v.every((x) => typeof x !== "object" || x === null)) items.sort();
    return `[${items.join(",")}]`;
  }
  if (typeof v === "object" && v !== null) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

function jitter(ms: number): number {
  return Math.random() * ms;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
