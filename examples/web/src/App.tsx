import { useCallback, useEffect, useRef, useState } from "react";
import { AuthProvider, Descope, useSession } from "@descope/react-sdk";
import { signInWithCustomToken, signOut } from "firebase/auth";
import { BridgeError, signInWithDescopeSession } from "@dfbridge/client";
import { bridgeUrl, configProblems, descope, devSessionUrl } from "./config";
import { firebaseAuth } from "./firebase";

type State =
  | { kind: "idle" }
  | { kind: "working" }
  | { kind: "signedIn"; uid: string; claims: Record<string, unknown> }
  | { kind: "error"; code: string; message: string };

export function App() {
  const problems = configProblems();
  if (problems.length > 0) {
    return (
      <main>
        <h1>dfbridge web example</h1>
        <p data-testid="error">Missing configuration: {problems.join(", ")}. See .env.example.</p>
      </main>
    );
  }
  return (
    <main>
      <h1>dfbridge web example</h1>
      {devSessionUrl ? <DevSignIn sessionUrl={devSessionUrl} /> : <DescopeSignIn />}
    </main>
  );
}

/** Exchanges a Descope session for a Firebase sign-in and tracks the outcome. */
function useBridgeSignIn() {
  const [state, setState] = useState<State>({ kind: "idle" });

  const signIn = useCallback(async (sessionJwt: string) => {
    setState({ kind: "working" });
    try {
      const auth = firebaseAuth();
      const { credential } = await signInWithDescopeSession(auth, signInWithCustomToken, {
        bridgeUrl,
        sessionJwt,
      });
      // Read the claims back from Firebase, not from the bridge: this is
      // what security rules and your backend will see.
      const { claims } = await credential.user.getIdTokenResult();
      setState({ kind: "signedIn", uid: credential.user.uid, claims });
    } catch (err) {
      setState(errorState(err));
    }
  }, []);

  const reset = useCallback(async () => {
    await signOut(firebaseAuth());
    setState({ kind: "idle" });
  }, []);

  return { state, signIn, setState, reset };
}

function errorState(err: unknown): State {
  if (err instanceof BridgeError) return { kind: "error", code: err.code, message: err.message };
  // Firebase errors carry a code such as "auth/invalid-custom-token".
  const code = (err as { code?: unknown })?.code;
  return {
    kind: "error",
    code: typeof code === "string" ? code : "error",
    message: err instanceof Error ? err.message : String(err),
  };
}

/** Production: Descope's hosted flow, then the exchange. */
function DescopeSignIn() {
  return (
    <AuthProvider projectId={descope.projectId}>
      <DescopeFlow />
    </AuthProvider>
  );
}

function DescopeFlow() {
  const { isAuthenticated, isSessionLoading, sessionToken } = useSession();
  const { state, signIn, setState } = useBridgeSignIn();
  // Exchange each session once; StrictMode and token refreshes rerun effects.
  const exchanged = useRef<string | null>(null);

  useEffect(() => {
    if (!isAuthenticated || !sessionToken || exchanged.current === sessionToken) return;
    exchanged.current = sessionToken;
    void signIn(sessionToken);
  }, [isAuthenticated, sessionToken, signIn]);

  if (isSessionLoading) return <p>Loading session…</p>;
  return (
    <>
      {!isAuthenticated && (
        <Descope
          flowId={descope.flowId}
          onError={() => setState({ kind: "error", code: "descope_flow_error", message: "The Descope flow failed" })}
        />
      )}
      <Result state={state} />
    </>
  );
}

/**
 * Local stack only: asks the Descope stand-in for a session so the page can be
 * driven without Descope's cloud. Never configure VITE_DEV_SESSION_URL for a
 * real deployment; the stand-in only serves /dev/session in dev mode anyway.
 */
function DevSignIn({ sessionUrl }: { sessionUrl: string }) {
  const [userId, setUserId] = useState("u1");
  const { state, signIn, setState, reset } = useBridgeSignIn();

  const onClick = async () => {
    setState({ kind: "working" });
    let sessionJwt: string;
    try {
      const res = await fetch(sessionUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ userId, roles: ["admin"], email: `${userId}@example.com` }),
      });
      const body = (await res.json()) as { sessionJwt?: unknown };
      if (!res.ok || typeof body.sessionJwt !== "string") {
        throw new Error(`dev session: HTTP ${res.status}`);
      }
      sessionJwt = body.sessionJwt;
    } catch (err) {
      setState({ kind: "error", code: "dev_session_failed", message: String(err) });
      return;
    }
    await signIn(sessionJwt);
  };

  return (
    <>
      <p>
        <strong>Dev mode</strong>: sessions come from the Descope stand-in at <code>{sessionUrl}</code>.
      </p>
      <label>
        Descope user ID{" "}
        <input data-testid="dev-user-id" value={userId} onChange={(e) => setUserId(e.target.value)} />
      </label>{" "}
      <button type="button" onClick={onClick} disabled={state.kind === "working"}>
        Sign in (dev)
      </button>{" "}
      {state.kind === "signedIn" && (
        <button type="button" onClick={reset}>
          Sign out
        </button>
      )}
      <Result state={state} />
    </>
  );
}

function Result({ state }: { state: State }) {
  switch (state.kind) {
    case "idle":
      return null;
    case "working":
      return <p>Signing in…</p>;
    case "error":
      return (
        <p role="alert" data-testid="error">
          <code>{state.code}</code>: {state.message}
        </p>
      );
    case "signedIn": {
      const roles = Array.isArray(state.claims.roles) ? state.claims.roles.map(String) : [];
      return (
        <dl>
          <dt>Firebase UID</dt>
          <dd data-testid="uid">{state.uid}</dd>
          <dt>Roles (custom claim)</dt>
          <dd data-testid="roles">{roles.join(", ")}</dd>
          <dt>All ID token claims</dt>
          <dd>
            <pre data-testid="claims">{JSON.stringify(state.claims, null, 2)}</pre>
          </dd>
        </dl>
      );
    }
  }
}
