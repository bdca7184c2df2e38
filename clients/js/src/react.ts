// useFirebaseSession for the web: the Descope session comes from
// @descope/react-sdk's useSession (inside its AuthProvider), refreshes and
// logout from useDescope.
import { getSessionToken, useDescope, useSession } from "@descope/react-sdk";
import { useBoundFirebaseSession, type FirebaseSessionOptions, type FirebaseSessionState } from "./hook.js";
import type { AuthLike } from "./session.js";

export type { FirebaseSessionOptions, FirebaseSessionState, FirebaseSessionStatus } from "./hook.js";

export function useFirebaseSession<A extends AuthLike>(
  opts: FirebaseSessionOptions<A>,
): FirebaseSessionState<NonNullable<A["currentUser"]>> {
  const { sessionToken, isAuthenticated, isSessionLoading } = useSession();
  const sdk = useDescope();
  return useBoundFirebaseSession(opts, {
    token: isAuthenticated && sessionToken ? sessionToken : null,
    loading: isSessionLoading,
    logout: () => sdk.logout(),
    refresh: () => sdk.refresh(),
    latestToken: () => getSessionToken() || null,
  });
}

/**
 * The same hook over a Descope session from elsewhere (a custom session
 * store, or a test stand-in): pass the token and how to log out and refresh.
 */
export { useBoundFirebaseSession, type DescopeSessionSource } from "./hook.js";
