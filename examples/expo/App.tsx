// Sign in with Descope (its hosted flow, through OIDC with PKCE), and keep a
// Firebase session in step with it: useFirebaseSession exchanges Descope's
// access token at dfbridge for a Firebase custom token, signs in with it,
// exchanges again only when the user's claims change, and signs out of
// both together.
import { makeRedirectUri } from "expo-auth-session";
import * as WebBrowser from "expo-web-browser";
import { onAuthStateChanged, signInWithCustomToken, signOut } from "firebase/auth";
import { Button, Text, View } from "react-native";
import { useFirebaseSession } from "@dfbridge/client/expo";
import { BRIDGE_URL, DESCOPE_CLIENT_ID, DESCOPE_PROJECT_ID, SCHEME } from "./src/config";
import { auth } from "./src/firebase";

WebBrowser.maybeCompleteAuthSession();

const redirectUri = makeRedirectUri({ scheme: SCHEME, path: "oauthredirect" });

export default function App() {
  const session = useFirebaseSession({
    projectId: DESCOPE_PROJECT_ID,
    clientId: DESCOPE_CLIENT_ID,
    redirectUri,
    bridgeUrl: BRIDGE_URL,
    auth,
    signInWithCustomToken,
    signOut,
    onAuthStateChanged,
  });
  const roles = session.claims?.roles;
  return (
    <View style={{ flex: 1, alignItems: "center", justifyContent: "center", gap: 12 }}>
      {session.status === "signed_in" && session.user ? (
        <>
          <Text>Firebase UID: {session.user.uid}</Text>
          <Text>Roles: {Array.isArray(roles) ? roles.join(", ") : "none"}</Text>
          <Button title="Sign out" onPress={() => void session.signOut()} />
        </>
      ) : (
        <>
          <Text>{session.status === "error" ? `Sign-in failed: ${String(session.error)}` : session.status}</Text>
          <Button title="Sign in with Descope" disabled={!session.ready} onPress={() => void session.signIn()} />
        </>
      )}
    </View>
  );
}
