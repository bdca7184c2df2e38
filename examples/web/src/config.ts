// Everything the page is configured with, read once from Vite's build-time
// env. Vite inlines each value, so a build without VITE_DEV_SESSION_URL has
// the dev sign-in code removed as dead code.
const env = import.meta.env;

export const bridgeUrl = env.VITE_BRIDGE_URL || "http://127.0.0.1:8080";
export const authEmulatorUrl = env.VITE_AUTH_EMULATOR_URL || undefined;
export const devSessionUrl = import.meta.env.VITE_DEV_SESSION_URL;
/** How often dev mode refreshes its session, as Descope's SDK would. */
export const devRefreshMs = Number(env.VITE_DEV_REFRESH_MS) || 5000;

export const descope = {
  projectId: env.VITE_DESCOPE_PROJECT_ID ?? "",
  flowId: env.VITE_DESCOPE_FLOW_ID || "sign-up-or-in",
};

export const firebaseOptions = {
  // The emulator accepts any API key; a real project needs its own.
  apiKey: env.VITE_FIREBASE_API_KEY || (authEmulatorUrl ? "demo-api-key" : ""),
  authDomain: env.VITE_FIREBASE_AUTH_DOMAIN || undefined,
  projectId: env.VITE_FIREBASE_PROJECT_ID || (authEmulatorUrl ? "demo-dfbridge" : ""),
};

/** Names the settings that are missing, so the page can say what to fix. */
export function configProblems(): string[] {
  const missing: string[] = [];
  if (!firebaseOptions.apiKey) missing.push("VITE_FIREBASE_API_KEY");
  if (!firebaseOptions.projectId) missing.push("VITE_FIREBASE_PROJECT_ID");
  if (!devSessionUrl && !descope.projectId) missing.push("VITE_DESCOPE_PROJECT_ID");
  return missing;
}
