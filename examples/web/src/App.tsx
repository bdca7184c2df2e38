import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { AuthProvider, Descope } from "@descope/react-sdk";
import { onAuthStateChanged, signInWithCustomToken, signOut } from "firebase/auth";
import { BridgeError } from "@dfbridge/client";
import {
  useBoundFirebaseSession,
  useFirebaseSession,
  type FirebaseSessionOptions,
  type FirebaseSessionState,
} from "@dfbridge/client/react";
import type { Auth, User } from "firebase/auth";
import { bridgeUrl, configProblems, descope, devRefreshMs, devSessionUrl } from "./config";
import { firebaseAuth } from "./firebase";

export function App() {
  const problems = configProblems();
  if (problems.length > 0) {
    return (
      <Shell>
        <div className="card">
          <p role="alert" data-testid="error" className="alert">
            Missing configuration: {problems.join(", ")}. See .env.example.
          </p>
        </div>
      </Shell>
    );
  }
  return devSessionUrl ? (
    <DevSession sessionUrl={devSessionUrl} />
  ) : (
    <AuthProvider projectId={descope.projectId}>
      <DescopeSession />
    </AuthProvider>
  );
}

/** The page frame: the header (with the account and sign-out once signed in) and the content. */
function Shell({ session, children }: { session?: FirebaseSessionState<User>; children: ReactNode }) {
  const signedIn = session?.status === "signed_in" && session.user;
  return (
    <div className="page">
      <header className="bar">
        <span className="brand">Acme Docs</span>
        <span className="tagline">your team's documents</span>
        <span className="grow" />
        {session && (
          <span className={`badge ${session.status}`} data-testid="status">
            {statusText[session.status]}
          </span>
        )}
        {signedIn && (
          <>
            <span className="who" data-testid="who">
              {session.user?.email ?? session.user?.uid}
            </span>
            <button type="button" className="ghost" onClick={() => void session.signOut()}>
              Sign out
            </button>
          </>
        )}
      </header>
      <main className="content">{children}</main>
    </div>
  );
}

/** What the hook needs from Firebase: its own functions, passed in. */
function useFirebaseOptions(): FirebaseSessionOptions<Auth> {
  return useMemo(
    () => ({ bridgeUrl, auth: firebaseAuth(), signInWithCustomToken, signOut, onAuthStateChanged }),
    [],
  );
}

/** Production: Descope's hosted flow; the hook keeps Firebase in step. */
function DescopeSession() {
  const session = useFirebaseSession(useFirebaseOptions());
  const [flowError, setFlowError] = useState(false);
  return (
    <Shell session={session}>
      {session.status === "signed_in" ? (
        <Workspace session={session} />
      ) : (
        <SignInScreen session={session}>
          <Descope flowId={descope.flowId} onError={() => setFlowError(true)} />
          {flowError && <p className="alert">The Descope flow failed.</p>}
        </SignInScreen>
      )}
    </Shell>
  );
}

/** Signed out: what the app is, and the sign-in. */
function SignInScreen({ session, children }: { session: FirebaseSessionState<User>; children: ReactNode }) {
  return (
    <div className="card signin" data-testid="signin-screen">
      <h1>Sign in to Acme Docs</h1>
      <p className="muted">Passkeys, SSO or a one-time code, through Descope. Your documents stay in Firebase.</p>
      {session.status === "error" && <ErrorLine error={session.error} />}
      {children}
    </div>
  );
}

/**
 * Local stack only: sessions come from the Descope stand-in, and are
 * refreshed every few seconds as Descope's SDK refreshes them (the
 * stand-in's refresh reads the user's current roles). Never configure
 * VITE_DEV_SESSION_URL for a real deployment.
 */
function DevSession({ sessionUrl }: { sessionUrl: string }) {
  const [userId, setUserId] = useState("u1");
  const [token, setToken] = useState<string | null>(null);
  const [devError, setDevError] = useState<string | null>(null);
  const current = useRef<string | null>(null);
  const refreshUrl = sessionUrl.replace(/\/dev\/session$/, "/dev/refresh");

  const refresh = useCallback(async () => {
    const id = current.current;
    if (!id) return;
    const res = await fetch(refreshUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ userId: id }),
    });
    // As with Descope, a refused refresh (a disabled user) ends the session.
    const body = (await res.json().catch(() => ({}))) as { sessionJwt?: string };
    setToken(res.ok && body.sessionJwt ? body.sessionJwt : null);
  }, [refreshUrl]);

  useEffect(() => {
    if (!token) return;
    const t = setInterval(() => void refresh(), devRefreshMs);
    return () => clearInterval(t);
  }, [token, refresh]);

  const session = useBoundFirebaseSession(useFirebaseOptions(), {
    token,
    loading: false,
    logout: async () => {
      current.current = null;
      setToken(null);
    },
    refresh,
  });

  const signIn = async () => {
    setDevError(null);
    try {
      const res = await fetch(sessionUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ userId, roles: ["admin"], email: `${userId}@example.com` }),
      });
      const body = (await res.json()) as { sessionJwt?: unknown };
      if (!res.ok || typeof body.sessionJwt !== "string") throw new Error(`dev session: HTTP ${res.status}`);
      current.current = userId;
      setToken(body.sessionJwt);
    } catch (err) {
      setDevError(String(err));
    }
  };

  return (
    <Shell session={session}>
      {session.status === "signed_in" ? (
        <Workspace session={session} />
      ) : (
        <SignInScreen session={session}>
          <p className="muted">
            Dev mode: sessions come from the Descope stand-in at <code>{sessionUrl}</code> and refresh every{" "}
            {devRefreshMs / 1000} s.
          </p>
          <div className="row">
            <label>
              Descope user ID{" "}
              <input data-testid="dev-user-id" value={userId} onChange={(e) => setUserId(e.target.value)} />
            </label>
            <button type="button" onClick={signIn} disabled={session.status === "signing_in"}>
              Sign in (dev)
            </button>
          </div>
          {devError && (
            <p role="alert" data-testid="error" className="alert">
              <code>dev_session_failed</code>: {devError}
            </p>
          )}
        </SignInScreen>
      )}
    </Shell>
  );
}

const statusText: Record<FirebaseSessionState<User>["status"], string> = {
  loading: "Loading",
  signed_out: "Signed out",
  signing_in: "Signing in…",
  signed_in: "Signed in",
  error: "Error",
};

/** Demo documents: in a real app they are Firestore documents the rules guard. */
const documents = [
  { title: "Onboarding checklist", updated: "today" },
  { title: "Q3 roadmap", updated: "yesterday" },
  { title: "Incident review: login latency", updated: "last week" },
];

/** The claims the bridge keeps for lifecycle sync; rules never need them. */
const bookkeeping = new Set(["dfb", "dfbo"]);
/** Claims Firebase itself sets on every ID token. */
const firebaseOwn = new Set(["iss", "aud", "auth_time", "user_id", "sub", "iat", "exp", "firebase", "email", "email_verified"]);

/**
 * Signed in: what the Firebase session unlocks. Each panel is gated by the
 * claim a security rule would read (examples/firestore.rules), from the ID
 * token Firebase issued, so it follows a role change at Descope without a
 * reload.
 */
function Workspace({ session }: { session: FirebaseSessionState<User> }) {
  const { user, claims } = session;
  const roles = Array.isArray(claims?.roles) ? claims.roles.map(String) : [];
  const permissions = Array.isArray(claims?.permissions) ? claims.permissions.map(String) : [];
  const isAdmin = roles.includes("admin");
  const canWrite = isAdmin || roles.includes("editor");
  const mapped = Object.entries(claims ?? {}).filter(([k]) => !bookkeeping.has(k) && !firebaseOwn.has(k));
  const kept = Object.entries(claims ?? {}).filter(([k]) => bookkeeping.has(k));
  return (
    <>
      <section className="card">
        <div className="row spread">
          <h2>Documents</h2>
          <button type="button" disabled={!canWrite} data-testid="new-document"
            title={canWrite ? "" : "Needs the editor or admin role"}>
            New document
          </button>
        </div>
        <ul className="docs">
          {documents.map((d) => (
            <li key={d.title}>
              <span>{d.title}</span>
              <span className="muted">{d.updated}</span>
            </li>
          ))}
        </ul>
      </section>

      {isAdmin ? (
        <section className="card admin" data-testid="admin-panel">
          <h2>Team settings</h2>
          <p className="muted">
            Shown because your token carries the <code>admin</code> role: the rule{" "}
            <code>{"'admin' in request.auth.token.roles"}</code> lets you read <code>/admin</code>.
          </p>
          <div className="row">
            <button type="button">Invite a teammate</button>
            <button type="button" className="ghost">Audit log</button>
          </div>
        </section>
      ) : (
        <section className="card locked" data-testid="admin-locked">
          <h2>Team settings</h2>
          <p className="muted">Admins only. Your roles do not include <code>admin</code>.</p>
        </section>
      )}

      <section className="card">
        <h2>Your Firebase session</h2>
        <dl className="facts">
          <dt>Firebase UID</dt>
          <dd data-testid="uid">{user?.uid}</dd>
          <dt>Roles</dt>
          <dd>
            <span data-testid="roles" className="chips">
              {roles.length === 0 && <span className="muted">none</span>}
              {roles.map((r) => (
                <span key={r} className="chip" data-testid="role">
                  {r}
                </span>
              ))}
            </span>
          </dd>
          <dt>Permissions</dt>
          <dd data-testid="permissions">{permissions.join(", ") || "none"}</dd>
        </dl>
        <details open>
          <summary>
            What <code>request.auth.token</code> holds (what security rules read)
          </summary>
          <pre data-testid="claims">{JSON.stringify(Object.fromEntries(mapped), null, 2)}</pre>
          {kept.length > 0 && (
            <details>
              <summary className="muted">
                Also there: <code>dfb</code> and <code>dfbo</code>, dfbridge's own bookkeeping
              </summary>
              <p className="muted">
                The bridge marks the accounts it manages (<code>dfb</code>: the Descope user) and which claims it
                wrote (<code>dfbo</code>), so lifecycle sync changes only those. Rules never need them.
              </p>
              <pre>{JSON.stringify(Object.fromEntries(kept), null, 2)}</pre>
            </details>
          )}
        </details>
      </section>
    </>
  );
}

function ErrorLine({ error }: { error: unknown }) {
  let code = "error";
  let message = error instanceof Error ? error.message : String(error);
  if (error instanceof BridgeError) {
    code = error.code;
  } else if (typeof (error as { code?: unknown })?.code === "string") {
    // Firebase errors carry a code such as "auth/user-disabled".
    code = (error as { code: string }).code;
  }
  message = message.replace(/^dfbridge: [a-z_]+: /, "");
  return (
    <p role="alert" data-testid="error" className="alert">
      <code>{code}</code>: {message}
    </p>
  );
}
