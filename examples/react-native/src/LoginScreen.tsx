import { useCallback, useEffect, useRef, useState } from "react";
import { ActivityIndicator, Button, StyleSheet, Text, View } from "react-native";
import { FlowView, useHostedFlowUrl, useSession, type DescopeError } from "@descope/react-native-sdk";
import {
  connectAuthEmulator,
  getAuth,
  getIdTokenResult,
  signInWithCustomToken,
  signOut,
} from "@react-native-firebase/auth";
import { BridgeError, signInWithDescopeSession } from "@dfbridge/client";
import { AUTH_EMULATOR_URL, BRIDGE_URL, DESCOPE_FLOW_ID } from "./config";

const auth = getAuth();
if (__DEV__ && AUTH_EMULATOR_URL) {
  connectAuthEmulator(auth, AUTH_EMULATOR_URL);
}

type State =
  | { kind: "idle" }
  | { kind: "working" }
  | { kind: "signedIn"; uid: string; roles: string[] }
  | { kind: "error"; code: string; message: string };

/**
 * Runs the Descope flow, lets the Descope SDK manage (store and refresh) the
 * session, and signs in to Firebase each time a new session appears.
 */
export function LoginScreen() {
  const { session, isSessionLoading, manageSession, clearSession } = useSession();
  const flowUrl = useHostedFlowUrl(DESCOPE_FLOW_ID);
  const [state, setState] = useState<State>({ kind: "idle" });
  // Exchange each session JWT once, however often the effect reruns.
  const exchanged = useRef<string | null>(null);

  const sessionJwt = session?.sessionJwt;
  useEffect(() => {
    if (!sessionJwt || exchanged.current === sessionJwt) return;
    exchanged.current = sessionJwt;
    setState({ kind: "working" });
    signInWithDescopeSession(auth, signInWithCustomToken, { bridgeUrl: BRIDGE_URL, sessionJwt })
      .then(async ({ credential }) => {
        // Read claims back from Firebase: this is what security rules see.
        const { claims } = await getIdTokenResult(credential.user);
        const roles = Array.isArray(claims.roles) ? claims.roles.map(String) : [];
        setState({ kind: "signedIn", uid: credential.user.uid, roles });
      })
      .catch((err: unknown) => setState(errorState(err)));
  }, [sessionJwt]);

  const onLogout = useCallback(async () => {
    await signOut(auth);
    await clearSession();
    exchanged.current = null;
    setState({ kind: "idle" });
  }, [clearSession]);

  if (isSessionLoading) {
    return <ActivityIndicator style={styles.fill} />;
  }
  if (!session) {
    return (
      <View style={styles.fill}>
        <FlowView
          style={styles.fill}
          flowOptions={{ url: flowUrl }}
          onSuccess={(jwtResponse) => manageSession(jwtResponse)}
          onError={(err: DescopeError) =>
            setState({ kind: "error", code: "descope_flow_error", message: err.errorDescription })
          }
        />
        <Status state={state} />
      </View>
    );
  }
  return (
    <View style={styles.centered}>
      <Status state={state} />
      <Button title="Sign out" onPress={onLogout} />
    </View>
  );
}

function errorState(err: unknown): State {
  if (err instanceof BridgeError) {
    return { kind: "error", code: err.code, message: err.message };
  }
  // React Native Firebase errors carry codes such as "auth/invalid-custom-token".
  const code = (err as { code?: unknown } | null)?.code;
  return {
    kind: "error",
    code: typeof code === "string" ? code : "error",
    message: err instanceof Error ? err.message : String(err),
  };
}

function Status({ state }: { state: State }) {
  switch (state.kind) {
    case "idle":
      return null;
    case "working":
      return <ActivityIndicator />;
    case "error":
      return (
        <Text testID="error" style={styles.error}>
          {state.code}: {state.message}
        </Text>
      );
    case "signedIn":
      return (
        <View>
          <Text>Firebase UID</Text>
          <Text testID="uid" style={styles.value}>
            {state.uid}
          </Text>
          <Text>Roles</Text>
          <Text testID="roles" style={styles.value}>
            {state.roles.join(", ")}
          </Text>
        </View>
      );
  }
}

const styles = StyleSheet.create({
  fill: { flex: 1 },
  centered: { flex: 1, alignItems: "center", justifyContent: "center", gap: 12 },
  value: { fontWeight: "600", marginBottom: 8 },
  error: { color: "#b00020", padding: 12 },
});
