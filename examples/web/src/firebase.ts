import { initializeApp } from "firebase/app";
import { connectAuthEmulator, getAuth, type Auth } from "firebase/auth";
import { authEmulatorUrl, firebaseOptions } from "./config";

let auth: Auth | undefined;

/** The page's one Auth instance, pointed at the emulator when configured. */
export function firebaseAuth(): Auth {
  if (!auth) {
    const app = initializeApp(firebaseOptions);
    auth = getAuth(app);
    if (authEmulatorUrl) {
      connectAuthEmulator(auth, authEmulatorUrl, { disableWarnings: true });
    }
  }
  return auth;
}
