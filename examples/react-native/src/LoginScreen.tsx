import { useMemo } from "react";
import { ActivityIndicator, Button, StyleSheet, Text, View } from "react-native";
import { FlowView, useHostedFlowUrl, useSession, type DescopeError } from "@descope/react-native-sdk";
import {
  connectAuthEmulator,
  getAuth,
  getIdTokenResult,
  onAuthStateChanged,
  signInWithCustomToken,
  signOut,
  type User,
} from "@react-native-firebase/auth";
import { BridgeError } from "@dfbridge/client";
import { useFirebaseSession, type FirebaseSessionState } from "@dfbridge/client/react-native";
import { AUTH_EMULATOR_URL, BRIDGE_URL, DESCOPE_FLOW_ID } from "./config";

const auth = getAuth();
if (__DEV__ && AUTH_EMULATOR_URL) {
  connectAuthEmulator(auth, AUTH_EMULATOR_URL);
}

/**
 * Runs the Descope flow; the Descope SDK stores and refreshes the session
 * (it persists across app launches), and useFirebaseSession keeps React
 * Native Firebase in step: one exchange per sign-in or change of access,
 * none per refresh, and a Firebase sign-out when the Descope session ends.
 */
export function LoginScreen() {
  const { session, isSessionLoading, manageSession } = useSession();
  const flowUrl = useHostedFlowUrl(DESCOPE_FLOW_ID);
  const firebase = useFirebaseSession(
    useMemo(
      () => ({
        bridgeUrl: BRIDGE_URL,
        auth,
        signInWithCustomToken,
        signOut,
        onAuthStateChanged,
        getIdTokenResult: (user: User) => getIdTokenResult(user),
      }),
      [],
    ),
  );

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
          onError={(err: DescopeError) => console.warn("Descope flow failed", err.errorDescription)}
        />
      </View>
    );
  }
  return (
    <View style={styles.centered}>
      <Status state={firebase} />
      <Button title="Sign out" onPress={() => void firebase.signOut()} />
    </View>
  );
}

function Status({ state }: { state: FirebaseSessionState<User> }) {
  switch (state.status) {
    case "loading":
    case "signing_in":
      return <ActivityIndicator />;
    case "signed_out":
      return <Text>Not signed in to Firebase.</Text>;
    case "error": {
      const err = state.error;
      // BridgeError carries the bridge's code; React Native Firebase errors
      // carry codes such as "auth/user-disabled".
      const code = err instanceof BridgeError ? err.code : ((err as { code?: string } | null)?.code ?? "error");
      return (
        <Text testID="error" style={styles.error}>
          {code}: {err instanceof Error ? err.message : String(err)}
        </Text>
      );
    }
    case "signed_in": {
      const roles = Array.isArray(state.claims?.roles) ? state.claims.roles.map(String) : [];
      return (
        <View>
          <Text>Firebase UID</Text>
          <Text testID="uid" style={styles.value}>
            {state.user?.uid}
          </Text>
          <Text>Roles (from the ID token)</Text>
          <Text testID="roles" style={styles.value}>
            {roles.join(", ")}
          </Text>
        </View>
      );
    }
  }
}

const styles = StyleSheet.create({
  fill: { flex: 1 },
  centered: { flex: 1, alignItems: "center", justifyContent: "center", gap: 12 },
  value: { fontWeight: "600", marginBottom: 8 },
  error: { color: "#b00020", padding: 12 },
});
