// Fill these in for your projects (see README.md).
export const DESCOPE_PROJECT_ID = "P2your-descope-project";
/** The OIDC application's client ID: Descope console → Applications. */
export const DESCOPE_CLIENT_ID = "your-oidc-application-client-id";
/** Where dfbridge runs. From the Android emulator the host machine is 10.0.2.2. */
export const BRIDGE_URL = "https://auth.example.com";
/** The app's URL scheme (app.json "scheme"); the redirect URI is <scheme>://oauthredirect. */
export const SCHEME = "dfbridgeexpo";
export const FIREBASE_CONFIG = {
  apiKey: "your-web-api-key",
  authDomain: "your-project.firebaseapp.com",
  projectId: "your-project",
  appId: "your-app-id",
};
/**
 * The Firebase Auth emulator, used only when set: "" talks to the real
 * Firebase project above. With the local stack: "http://10.0.2.2:9099" from
 * the Android emulator, "http://127.0.0.1:9099" from the iOS simulator, the
 * machine's LAN address from a device.
 */
export const AUTH_EMULATOR_URL: string = "";
