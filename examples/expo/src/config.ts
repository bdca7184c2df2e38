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
/** The Auth emulator, used in development only (__DEV__). */
export const AUTH_EMULATOR_URL = "http://10.0.2.2:9099";
