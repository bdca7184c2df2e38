/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_BRIDGE_URL?: string;
  readonly VITE_DESCOPE_PROJECT_ID?: string;
  readonly VITE_DESCOPE_FLOW_ID?: string;
  readonly VITE_FIREBASE_API_KEY?: string;
  readonly VITE_FIREBASE_AUTH_DOMAIN?: string;
  readonly VITE_FIREBASE_PROJECT_ID?: string;
  /** Local stack only: the Firebase Auth emulator, e.g. http://127.0.0.1:9099. */
  readonly VITE_AUTH_EMULATOR_URL?: string;
  /** Local stack only: the Descope stand-in's POST /dev/session. */
  readonly VITE_DEV_SESSION_URL?: string;
  /** Dev mode only: how often the stand-in session is refreshed, in ms. */
  readonly VITE_DEV_REFRESH_MS?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
