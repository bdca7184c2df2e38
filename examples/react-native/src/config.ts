// Fill these in for your project. In a real app they come from your build
// config (react-native-config, Expo's extra, ...); constants keep the example
// free of another dependency.

/** Descope project ID (Project settings in the Descope console). */
export const DESCOPE_PROJECT_ID = "P2your-descope-project-id";

/** The Descope flow to run, e.g. "sign-up-or-in". */
export const DESCOPE_FLOW_ID = "sign-up-or-in";

/**
 * Where dfbridge listens. From the Android emulator the host machine is
 * 10.0.2.2, not 127.0.0.1; from the iOS simulator 127.0.0.1 works.
 */
export const BRIDGE_URL = "https://auth.example.com";

/**
 * The Firebase Auth emulator, e.g. "http://10.0.2.2:9099". Used in
 * development builds only; leave undefined to use the real project from
 * google-services.json / GoogleService-Info.plist.
 */
export const AUTH_EMULATOR_URL: string | undefined = undefined;
