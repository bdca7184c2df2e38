import { useCallback, useEffect, useMemo, useRef, useState } from "react";
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
  return (
    <div className="page">
      <header className="bar">
        <span className="brand">Acme Docs</span>
        <span className="tagline">Descope sign-in, Firebase session, through dfbridge</span>
      </header>
      <main className="content">
        {problems.length > 0 ? (
          <div className="card">
            <p role="alert" data-testid="error" className="alert">
              Missing configuration: {problems.join(", ")}. See .env.example.
            </p>
          </div>
        ) : devSessionUrl ? (
          <DevSession sessionUrl={devSessionUrl} />
        ) : (
          <AuthProvider projectId={descope.projectId}>
            <DescopeSession />
          </AuthProvider>
        )}
      </main>
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
    <>
      {session.status === "signed_out" && (
        <div className="card">
          <Descope flowId={descope.flowId} onError={() => setFlowError(true)} />
          {flowError && <p className="alert">The Descope flow failed.</p>}
        </div>
      )}
      <Account session={session} />
    </>
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
    <>
      <div className="card">
        <h2>Sign in</h2>
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
      </div>
      <Account session={session} />
    </>
  );
}

const statusText: Record<FirebaseSessionState<User>["status"], string> = {
  loading: "Loading",
  signed_out: "Signed out",
  signing_in: "Signing in…",
  signed_in: "Signed in",
  error: "Error",
};

/** The Firebase user and the claims its ID token carries, read back from Firebase. */
function Account({ session }: { session: FirebaseSessionState<User> }) {
  const { status, user, claims, error } = session;
  const roles = Array.isArray(claims?.roles) ? claims.roles.map(String) : [];
  const permissions = Array.isArray(claims?.permissions) ? claims.permissions.map(String) : [];
  return (
    <div className="card">
      <div className="row spread">
        <h2>Your account</h2>
        <span className={`badge ${status}`} data-testid="status">
          {statusText[status]}
        </span>
      </div>
      {status === "error" && <ErrorLine error={error} />}
      {user && status === "signed_in" ? (
        <>
          <dl className="facts">
            <dt>Firebase UID</dt>
            <dd data-testid="uid">{user.uid}</dd>
            <dt>Roles</dt>
            <dd>
              <span data-testid="roles" className="chips">
                {roles.map((r, i) => (
                  <span key={r} className="chip">
                    {r}
                    {i < roles.length - 1 ? ", " : ""}
                  </span>
                ))}
              </span>
            </dd>
            <dt>Permissions</dt>
            <dd data-testid="permissions">{permissions.join(", ") || "none"}</dd>
          </dl>
          <details>
            <summary>All ID token claims (what security rules see)</summary>
            <pre data-testid="claims">{JSON.stringify(claims, null, 2)}</pre>
          </details>
          <button type="button" onClick={() => void session.signOut()}>
            Sign out
          </button>
        </>
      ) : (
        status !== "error" && <p className="muted">Not signed in to Firebase.</p>
      )}
    </div>
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
