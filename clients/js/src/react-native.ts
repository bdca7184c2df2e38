// useFirebaseSession for React Native: the Descope session comes from
// @descope/react-native-sdk's useSession (it stores and refreshes the
// session itself), logout from useDescope; Firebase is
// @react-native-firebase/auth, whose functions the app passes in.
import { useDescope, useSession } from "@descope/react-native-sdk";
import { useBoundFirebaseSession, type FirebaseSessionOptions, type FirebaseSessionState } from "./hook.js";
import type { AuthLike } from "./session.js";

export type { FirebaseSessionOptions, FirebaseSessionState, FirebaseSessionStatus } from "./hook.js";

export function useFirebaseSession<A extends AuthLike>(
  opts: FirebaseSessionOptions<A>,
): FirebaseSessionState<NonNullable<A["currentUser"]>> {
  const { session, isSessionLoading, refreshSessionIfAboutToExpire, clearSession } = useSession();
  const sdk = useDescope();
  return useBoundFirebaseSession(opts, {
    token: session?.sessionJwt ?? null,
    loading: isSessionLoading,
    logout: async () => {
      if (session?.refreshJwt) await sdk.logout(session.refreshJwt);
      await clearSession();
    },
    refresh: async () => refreshSessionIfAboutToExpire(),
  });
}
